// The curves of the one front-end (loss and accuracy, per update, per epoch or per
// recorded step), drawn with the vendored uPlot (frontend/vendor/) in every host: the
// recorded report and the playground (server and widget) call drawCurves(box, curves)
// with one small model. A box keeps its chart between calls; only new numbers or a
// moved marker are drawn again, so a playground at 20 frames a second stays cheap.
//
// curves = {title, x: [...], xlabel, ylabel, series: [{label, y: [...], colour, dash,
//           bars}], ymin, ymax, percent, marker: an x value or null (a dashed line),
//           legend: bool, height, pick(i): a click on the chart picks the nearest x}
/* global uPlot */

function options(box, c, width) {
  const series = [{label: c.xlabel || ""}, ...c.series.map((s) => ({
    label: s.label, stroke: s.colour, width: s.bars ? 1 : 2, dash: s.dash || undefined,
    fill: s.bars ? s.colour + "88" : undefined,
    paths: s.bars ? uPlot.paths.bars({size: [0.7, 40]}) : undefined,
    points: {show: false}}))];
  const range = (u, lo, hi) => {
    const a = c.ymin !== undefined ? c.ymin : lo, b = c.ymax !== undefined ? c.ymax : hi;
    return b > a ? [a, b] : [a, a + 1];
  };
  const barRange = (u, lo, hi) => {  // half a bar's room at each end: the end bars whole
    const half = c.x.length > 1 ? (hi - lo) / (c.x.length - 1) / 2 : 0.5;
    return [lo - half, hi + half];
  };
  return {
    title: c.title, width, height: c.height || 160,
    legend: {show: c.legend !== false},
    cursor: {points: {show: false}, drag: {x: false, y: false}},
    scales: {x: {time: false, range: c.series.some((s) => s.bars) ? barRange : undefined}, y: {range}},
    axes: [{label: c.xlabel, size: 36, labelSize: 18},
           {label: c.ylabel, size: 46, labelSize: c.ylabel ? 18 : 0,
            values: c.percent ? (u, vals) => vals.map((v) => Math.round(100 * v) + "%") : undefined}],
    series,
    hooks: {draw: [(u) => {  // the marker: where the shown step is
      const m = box._marker;
      if (m === null || m === undefined) return;
      const x = u.valToPos(m, "x", true), ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#c92a2a"; ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.setLineDash([3 * devicePixelRatio, 2 * devicePixelRatio]);
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      ctx.restore();
    }]},
  };
}

export function drawCurves(box, c) {
  if (typeof uPlot === "undefined") return null;
  const width = Math.max(180, box.clientWidth || 320);
  const key = JSON.stringify([width, c.title, c.xlabel, c.ylabel, c.height, c.percent, c.ymin, c.ymax,
                              c.series.map((s) => [s.label, s.colour, s.bars])]);
  const data = [c.x, ...c.series.map((s) => s.y)];
  box._marker = c.marker;
  if (box._chart && box._key === key) {
    if (box._data.some((d, k) => d !== data[k] || d.length !== box._lengths[k])) box._chart.setData(data);
    else box._chart.redraw(false, false);
  } else {
    if (box._chart) box._chart.destroy();
    box.replaceChildren();
    box._chart = new uPlot(options(box, c, width), data, box);
    box._key = key;
    if (c.pick) {
      box._chart.over.addEventListener("click", () => {
        const i = box._chart.cursor.idx;
        if (i !== null && i !== undefined) box._pick(i);
      });
    }
  }
  box._pick = c.pick;
  box._data = data;
  box._lengths = data.map((d) => d.length);
  return box._chart;
}
