// Byte counts as Kiln prints them (B, KiB, MiB), for the CLI and the page alike: no Node or DOM imports.

/** Bytes as `kiln inspect` shows them. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}
