// Subprotocol negotiation for the streaming upgrade (k8s.io/apimachinery httpstream.Handshake): the server
// picks the first version in the client's X-Stream-Protocol-Version list that it supports.

/** remotecommand versions over SPDY, newest first. v5 is websocket-only (KEP-4006), so it is not listed. */
export const REMOTECOMMAND_SPDY_PROTOCOLS = [
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
] as const;
export type RemoteCommandProtocol = (typeof REMOTECOMMAND_SPDY_PROTOCOLS)[number];

export const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';

/** Header values may repeat and may be comma-separated (client-go sends one header per version). */
export function splitHeaderList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** The first client-offered protocol the server supports, or null (the caller answers 403). */
export function negotiate<T extends string>(offered: readonly string[], supported: readonly T[]): T | null {
  for (const p of offered) {
    const hit = supported.find((s) => s === p);
    if (hit !== undefined) return hit;
  }
  return null;
}

/** Resize messages exist from v3 on (earlier clients have no resize stream). */
export function supportsResize(p: RemoteCommandProtocol): boolean {
  return p === 'v4.channel.k8s.io' || p === 'v3.channel.k8s.io';
}

/** WebSocket subprotocols (KEP-4006): remote command channels, and port-forward tunnelling SPDY frames. */
export const WS_REMOTECOMMAND_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'base64.channel.k8s.io',
  'channel.k8s.io',
] as const;
export type WsRemoteCommandProtocol = (typeof WS_REMOTECOMMAND_PROTOCOLS)[number];
export const WS_PORTFORWARD_SPDY_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
