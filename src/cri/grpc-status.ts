// crius's error codes (common/errors.ts) as gRPC status codes: the one mapping, used by the CRI server.
import { Status, statusName, type StatusCode } from '../grpc/status.js';
import type { ErrorCode } from '../common/errors.js';

const CODES: Record<ErrorCode, StatusCode> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  NOT_FOUND: Status.NOT_FOUND,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  UNIMPLEMENTED: Status.UNIMPLEMENTED,
  UNAVAILABLE: Status.UNAVAILABLE,
  DEADLINE_EXCEEDED: Status.DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED: Status.RESOURCE_EXHAUSTED,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
  CANCELLED: Status.CANCELLED,
  INTERNAL: Status.INTERNAL,
};

export function grpcCode(code: ErrorCode): StatusCode {
  return CODES[code];
}

export function grpcCodeName(code: number): string {
  return statusName(code);
}
