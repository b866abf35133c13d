// The colours and scales of the one front-end, shared by the recorded report, the
// playground and the notebook widget: TensorFlow Playground's convention, orange
// negative, blue positive, grey at 0. An ES module for the playground's server;
// retroprop.frontend.inline() drops the `export`s where a host inlines it.
export const NEG = [245, 147, 34], POS = [8, 119, 189], MID = [232, 234, 237];

export function mix(t) {  // t in [-1, 1] -> orange .. grey .. blue
  const c = t < 0 ? NEG : POS, s = Math.min(1, Math.abs(t));
  return `rgb(${MID.map((m, k) => Math.round(m + (c[k] - m) * s)).join(",")})`;
}

export function niceScale(m) {  // the legend's end: 1, 2 or 5 times a power of ten >= m
  if (!(m > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(m)));
  for (const f of [1, 2, 5, 10]) if (f * p >= m) return f * p;
  return 10 * p;
}
