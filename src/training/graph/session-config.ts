/** A varint-encoded protobuf field (wire type 0). */
function varintField(field: number, value: number): number[] {
  const out: number[] = [];
  let v = (field << 3) >>> 0;
  for (const n of [v, value]) {
    v = n;
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
  }
  return out;
}

/**
 * A serialized tensorflow.ConfigProto with the session's own thread pools:
 * intra_op_parallelism_threads (field 2), inter_op_parallelism_threads (field 5),
 * use_per_session_threads (field 9), so a session never shares tfjs' pools.
 */
export function sessionConfig(threads: { intraOp: number; interOp: number }): Uint8Array {
  return new Uint8Array([...varintField(2, threads.intraOp), ...varintField(5, threads.interOp), ...varintField(9, 1)]);
}
