// Quantization in the f32 arithmetic Rust games run their rules in, for a page whose
// prediction step must match the server to the bit: a `Fixed(scale)` lane from an f32 world
// value and back, and aim angles in 65,536 steps. (The SDK's `quantize`/`dequantize` in
// schema.js work in f64, which is right for drawing, not for replaying a game's f32 step.)

const f = Math.fround;
const TAU = 2 * Math.PI;

/** Rust's `f32::round`: half away from zero (JavaScript's Math.round goes half up). */
export function roundHalfAway(v) {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** An f32 world value to its `Fixed(scale)` lane: `(v * scale).round() as i32`. */
export function quantizeFixedF32(v, scale) {
  return roundHalfAway(f(v * scale)) | 0;
}

/** A `Fixed(scale)` lane back to an f32 world value: `q as f32 / scale`. */
export function dequantizeFixedF32(q, scale) {
  return f(f(q) / scale);
}

/** Radians to an `Angle16` lane (65,536 steps per turn, wrapped). */
export function quantizeAngle16(a) {
  const r = ((a % TAU) + TAU) % TAU;
  return Math.round((r / TAU) * 65536) % 65536;
}
