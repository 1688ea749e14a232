// IVF container framing (the trigger stream Node writes to the mixer). Pure.

export function ivfFileHeader(width: number, height: number, fps: number, fourcc = 'VP80'): Buffer {
  const h = Buffer.alloc(32);
  h.write('DKIF', 0, 'ascii');
  h.writeUInt16LE(0, 4); // version
  h.writeUInt16LE(32, 6); // header size
  h.write(fourcc, 8, 'ascii');
  h.writeUInt16LE(width, 12);
  h.writeUInt16LE(height, 14);
  h.writeUInt32LE(fps, 16); // time base denominator (rate)
  h.writeUInt32LE(1, 20); // time base numerator (scale)
  h.writeUInt32LE(0, 24); // frame count: unknown for a live stream
  return h;
}

export function ivfFrame(payload: Buffer, pts: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(payload.length, 0);
  h.writeBigUInt64LE(BigInt(pts), 4);
  return Buffer.concat([h, payload]);
}

/** Splits an IVF file into its frame payloads. */
export function parseIvf(file: Buffer): { width: number; height: number; frames: Buffer[] } {
  if (file.length < 32 || file.toString('ascii', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
  const headerSize = file.readUInt16LE(6);
  const frames: Buffer[] = [];
  let off = headerSize;
  while (off + 12 <= file.length) {
    const size = file.readUInt32LE(off);
    if (off + 12 + size > file.length) break;
    frames.push(file.subarray(off + 12, off + 12 + size));
    off += 12 + size;
  }
  return { width: file.readUInt16LE(12), height: file.readUInt16LE(14), frames };
}

/** VP8 payload header: bit 0 of the first byte is 0 for a keyframe. */
export function isVp8Keyframe(payload: Buffer): boolean {
  return payload.length > 0 && (payload[0] & 0x01) === 0;
}
