/** A varint-encoded protobuf field (wire type 0); a negative int32 takes ten bytes, as protobuf writes it. */
function varintField(field: number, value: number): number[] {
  const out: number[] = [];
  for (let v of [BigInt(field << 3), BigInt.asUintN(64, BigInt(value))]) {
    while (v > 0x7fn) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
  }
  return out;
}

/**
 * A serialized tensorflow.ConfigProto with the session's own thread pools:
 * intra_op_parallelism_threads (field 2), inter_op_parallelism_threads (field 5),
 * use_per_session_threads (field 9), so a session never shares tfjs' pools. A negative interOp
 * runs the graph's ops in the thread that calls the session, one after another.
 */
export function sessionConfig(threads: { intraOp: number; interOp: number }): Uint8Array {
  return new Uint8Array([...varintField(2, threads.intraOp), ...varintField(5, threads.interOp), ...varintField(9, 1)]);
}
