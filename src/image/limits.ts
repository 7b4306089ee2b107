// What a registry or a layer may cost the daemon. Each bound is a key of the [images] config table
// (src/config/config.ts); a pull that passes one fails FAILED_PRECONDITION naming the key.
export interface ImageLimits {
  /** images.max_manifest_bytes: largest manifest or index read from a registry. */
  maxManifestBytes: number;
  /** images.max_config_bytes: largest image config (parsed in memory, stored in the database). */
  maxConfigBytes: number;
  /** images.stall_timeout_seconds: a registry request receiving less than 1 KiB for this long is cut off. */
  stallTimeoutSeconds: number;
  /** images.max_layer_unpacked_bytes: largest uncompressed (tar stream) size of one layer. */
  maxLayerUnpackedBytes: number;
  /** images.max_layer_entries: most tar entries in one layer. */
  maxLayerEntries: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxManifestBytes: 4 * 1024 * 1024,
  maxConfigBytes: 8 * 1024 * 1024,
  stallTimeoutSeconds: 60,
  maxLayerUnpackedBytes: 32 * 1024 ** 3,
  maxLayerEntries: 5_000_000,
};
