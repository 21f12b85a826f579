/**
 * What a file system entry is, in words for an error that refuses it ("is a FIFO (named pipe)").
 * Shared by the Node twins that read and write files; takes the shape of node:fs's Stats without
 * importing it, so it stays platform-neutral.
 */
export interface EntryStats {
  isDirectory(): boolean;
  isFile(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
}

export function entryKind(s: EntryStats): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFile()) return 'a regular file';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}
