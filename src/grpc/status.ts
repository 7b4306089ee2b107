// gRPC status codes (the numbers every gRPC implementation puts in the grpc-status trailer) and their
// names, for the daemon's own gRPC server (grpc/server.ts) and its logs.

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

type StatusName = keyof typeof Status;
export type StatusCode = (typeof Status)[StatusName];

const NAMES = Object.fromEntries(Object.entries(Status).map(([name, code]) => [code, name])) as Record<number, StatusName>;

/** The name of a status code ("NOT_FOUND"), or the number itself if it is none of the known ones. */
export function statusName(code: number): string {
  return NAMES[code] ?? String(code);
}

/** A call's outcome as the server sends it: a code and a message for people. */
export interface CallStatus {
  code: StatusCode;
  message: string;
}

/** An error that carries its gRPC status (the transport's own refusals: bad framing, sizes, deadlines). */
export class GrpcStatusError extends Error {
  constructor(readonly code: StatusCode, message: string) {
    super(message);
    this.name = 'GrpcStatusError';
  }
}
