// Reads the Localhost seccomp profile a CRI SecurityProfile names (localhost_ref: an absolute path on the
// node, as the kubelet resolves it); spec/ turns the parsed JSON into the OCI seccomp section.
import { readFile } from 'node:fs/promises';
import { invalidArgument, notFound } from '../common/errors.js';

export interface SeccompProfileRef {
  profile_type?: string | null;
  localhost_ref?: string | null;
}

/** undefined unless the profile is Localhost; the file's JSON otherwise. */
export async function loadLocalhostSeccomp(profile: SeccompProfileRef | null | undefined, what: string): Promise<unknown> {
  if (profile?.profile_type !== 'Localhost') return undefined;
  const ref = profile.localhost_ref ?? '';
  if (!ref.startsWith('/')) throw invalidArgument(`${what}: seccomp localhost_ref "${ref}" must be an absolute path on the node`);
  let text: string;
  try {
    text = await readFile(ref, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(`${what}: seccomp profile ${ref} does not exist on this node`);
    throw invalidArgument(`${what}: cannot read seccomp profile ${ref}: ${code ?? String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidArgument(`${what}: seccomp profile ${ref} is not valid JSON: ${(err as Error).message}`);
  }
}
