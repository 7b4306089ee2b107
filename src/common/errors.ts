// Errors are values that carry a gRPC status code and a message naming the object, the cause and the fix.
// Each layer wraps with its own context (`create container "web" in pod "p1": ...`), keeping the code.

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'UNIMPLEMENTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'PERMISSION_DENIED'
  | 'CANCELLED'
  | 'INTERNAL';

export class CriusError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CriusError';
    this.code = code;
  }
}

export const invalidArgument = (msg: string): CriusError => new CriusError('INVALID_ARGUMENT', msg);
export const notFound = (msg: string): CriusError => new CriusError('NOT_FOUND', msg);
export const alreadyExists = (msg: string): CriusError => new CriusError('ALREADY_EXISTS', msg);
export const failedPrecondition = (msg: string): CriusError => new CriusError('FAILED_PRECONDITION', msg);
export const internal = (msg: string, cause?: unknown): CriusError => new CriusError('INTERNAL', msg, { cause });

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The error's code, INTERNAL for anything that is not a CriusError (a bug or an unexpected system error). */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof CriusError ? err.code : 'INTERNAL';
}

/** Prefixes the message with context and keeps the code; non-crius errors become INTERNAL. */
export function wrap(context: string, err: unknown): CriusError {
  return new CriusError(errorCode(err), `${context}: ${errorMessage(err)}`, { cause: err });
}
