(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('dashboard-data').textContent);
  var T = D.texts;
  var FILL = {elevated: '#e6852e', lower: '#6f9fca', no_difference: '#cfd6dc', suppressed: 'url(#hatch)', reference: '#b9b1dd'};
  var LEVEL = {GM: 'gemeente', WK: 'wijk', BU: 'buurt'};
  function levelOf(code) { return code === D.national_code ? 'land' : (LEVEL[code.substr(0, 2)] || 'land'); }
  function parentOf(code) {
    if (code.indexOf('BU') === 0) { return 'WK' + code.substr(2, 6); }
    if (code.indexOf('WK') === 0) { return 'GM' + code.substr(2, 4); }
    if (code.indexOf('GM') === 0) { return D.national_code; }
    return '';
  }
  function gmOf(code) { return code && code !== D.national_code ? 'GM' + code.substr(2, 4) : null; }
  var CODES = Object.keys(D.names);
  var CHILDREN = {};
  CODES.forEach(function (c) { var p = parentOf(c); if (p && p !== D.national_code) { (CHILDREN[p] = CHILDREN[p] || []).push(c); } });
  var state = {band: D.default_band, code: null};
  function area(code) {
    var v = (D.values[state.band] || {})[code];
    var a = {code: code, name: D.names[code] || code, level: levelOf(code), n: null, n_el: null, share: null, mean: null, lo: null, hi: null, label: 'suppressed', reason: null};
    if (v) { a.n = v[0]; a.n_el = v[1]; a.share = v[2]; a.mean = v[3]; a.lo = v[4]; a.hi = v[5]; a.label = v[6]; }
    else { a.reason = T[(D.status[state.band] || {})[code] || 'reason_generic']; }
    return a;
  }
  function children(code) { return (CHILDREN[code] || []).map(area).sort(byName); }
  function path(code) {
    var out = [];
    for (var c = code; c && c !== D.national_code; c = parentOf(c)) { out.unshift(c); }
    return out;
  }

  function esc(s) {
    return String(s === null || s === undefined ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function fmtPct(x) { return x === null || x === undefined ? T.na : (100 * x).toLocaleString(T.lang, {maximumFractionDigits: 1, minimumFractionDigits: 1}) + '%'; }
  function fmtNum(x, d) { return x === null || x === undefined ? T.na : Number(x).toLocaleString(T.lang, {maximumFractionDigits: d, minimumFractionDigits: d}); }
  function fmtInt(x) { return x === null || x === undefined ? T.na : Math.round(x).toLocaleString(T.lang); }
  function riskCell(a) {
    if (!a || a.mean === null) { return T.na; }
    return fmtPct(a.mean) + ' <span class="note">(' + fmtPct(a.lo) + ' – ' + fmtPct(a.hi) + ')</span>';
  }
  function labelHtml(a) {
    var h = '<span class="lab ' + esc(a.label) + '">' + esc(T['label_' + a.label]) + '</span>';
    return a.reason ? h + ' <span class="reason">' + esc(a.reason) + '</span>' : h;
  }
  function byName(a, b) { return String(a.name).localeCompare(String(b.name), T.lang) || String(a.code).localeCompare(String(b.code)); }

  // ---- band buttons ------------------------------------------------------------------------
  var bandBox = document.getElementById('bands');
  bandBox.innerHTML = D.bands.map(function (b) {
    return '<button type="button" data-band="' + esc(b) + '">' + esc(b + ' ' + T.years) + '</button>';
  }).join('');
  bandBox.addEventListener('click', function (ev) {
    var b = ev.target.getAttribute('data-band');
    if (b) { state.band = b; renderAll(); }
  });

  // ---- gemeente list (alphabetical) --------------------------------------------------------
  var sel = document.getElementById('gm-select');
  var gmList = CODES.filter(function (c) { return levelOf(c) === 'gemeente'; }).map(function (c) { return {code: c, name: D.names[c]}; }).sort(byName);
  sel.innerHTML = '<option value="">' + esc(T.choose_gm) + '</option>' + gmList.map(function (g) {
    return '<option value="' + esc(g.code) + '">' + esc(g.name) + '</option>';
  }).join('');
  sel.addEventListener('change', function () { select(sel.value || null); });

  // ---- map -----------------------------------------------------------------------------------
  var mapPaths = Array.prototype.slice.call(document.querySelectorAll('#map path[data-code]'));
  mapPaths.forEach(function (p) {
    p.addEventListener('click', function () { select(p.getAttribute('data-code')); });
  });
  function renderMap() {
    var gm = gmOf(state.code);
    mapPaths.forEach(function (p) {
      var code = p.getAttribute('data-code');
      var a = area(code);
      p.setAttribute('fill', FILL[a.label] || FILL.suppressed);
      p.classList.toggle('sel', code === gm);
      var name = D.names[code] || p.getAttribute('data-name') || code;
      var t = p.querySelector('title');
      var txt = name + ': ' + (a.mean !== null ? fmtPct(a.mean) + ' (' + fmtPct(a.lo) + ' – ' + fmtPct(a.hi) + '), ' : '') + T['label_' + a.label] + (a.reason ? ' (' + a.reason + ')' : '');
      if (t) { t.textContent = txt; }
    });
  }

  // ---- charts --------------------------------------------------------------------------------
  function seriesFor(code, name) {
    var t = D.trends[code];
    var pts = t && t[state.band] && t[state.band][name] ? t[state.band][name] : null;
    return pts ? pts.map(function (p) { return [D.dates[p[0]], p[1], p[2], p[3]]; }) : null;
  }
  function markersFor(code) {
    var gm = gmOf(code);
    return D.interventions.filter(function (iv) {
      if (iv.bands.indexOf(state.band) < 0) { return false; }
      return iv.areas.some(function (c) {
        if (c === code) { return true; }
        if (code.indexOf('GM') === 0) { return c.substr(2, 4) === code.substr(2, 4); }
        if (code.indexOf('WK') === 0) { return c === gm || (c.indexOf('BU') === 0 && c.substr(2, 6) === code.substr(2, 6)); }
        return c === gm || c === 'WK' + code.substr(2, 6);
      });
    });
  }
  function chart(title, measure, pts, ref, markers, scale, unit, expected) {
    var pub = pts ? pts.filter(function (p) { return p[1] !== null; }) : [];
    if (pub.length < 1) { return ''; }
    var W = 560, H = 190, L = 54, R = 14, TP = 12, B = 30;
    var xs = pts.map(function (p) { return Date.parse(p[0]); });
    (expected || []).forEach(function (d) { xs.push(Date.parse(d)); });
    markers.forEach(function (m) { xs.push(Date.parse(m.start)); });
    var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
    if (xmax === xmin) { xmin -= 2e10; xmax += 2e10; }
    var ys = [];
    pub.forEach(function (p) { ys.push(p[1]); if (p[2] !== null) { ys.push(p[2]); } if (p[3] !== null) { ys.push(p[3]); } });
    if (ref) { ref.forEach(function (p) { if (p[1] !== null) { ys.push(p[1]); } }); }
    var ymin = Math.min(0, Math.min.apply(null, ys)), ymax = Math.max.apply(null, ys);
    if (ymax <= ymin) { ymax = ymin + 1; }
    var raw = (ymax - ymin) / 4, mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var step = [1, 2, 2.5, 5, 10].map(function (f) { return f * mag; }).filter(function (v) { return v >= raw; })[0];
    ymax = ymin + step * Math.ceil((ymax - ymin) / step);
    var nTicks = Math.round((ymax - ymin) / step);
    var dec = Math.max(0, -Math.floor(Math.log(step * scale) / Math.LN10 + 1e-9));
    if (Math.abs(step * scale * Math.pow(10, dec) - Math.round(step * scale * Math.pow(10, dec))) > 1e-6) { dec += 1; }
    function X(t) { return L + (W - L - R) * (t - xmin) / (xmax - xmin); }
    function Y(v) { return TP + (H - TP - B) * (1 - (v - ymin) / (ymax - ymin)); }
    var s = '<svg viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="' + esc(title) + '">';
    for (var k = 0; k <= nTicks; k++) {
      var v = ymin + step * k, y = Y(v);
      s += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y.toFixed(1) + '" y2="' + y.toFixed(1) + '" stroke="#e3e7eb"/>';
      s += '<text x="' + (L - 6) + '" y="' + (y + 4).toFixed(1) + '" font-size="11" text-anchor="end" fill="#555">' + esc(fmtNum(v * scale, dec)) + unit + '</text>';
    }
    var years = {};
    pts.forEach(function (p) { years[p[0].substr(0, 4)] = Date.parse(p[0].substr(0, 4) + '-01-01'); });
    (expected || []).forEach(function (d) { years[d.substr(0, 4)] = Date.parse(d.substr(0, 4) + '-01-01'); });
    Object.keys(years).forEach(function (yr) {
      var x = X(years[yr]);
      if (x >= L - 1 && x <= W - R + 1) { s += '<text x="' + x.toFixed(1) + '" y="' + (H - 10) + '" font-size="11" text-anchor="middle" fill="#555">' + esc(yr) + '</text>'; }
    });
    var band = pub.filter(function (p) { return p[2] !== null && p[3] !== null; });
    // a period without a published value breaks the line and the band (no line across a gap)
    segments(band, expected).forEach(function (seg) {
      if (seg.length < 2) { return; }
      var up = seg.map(function (p) { return X(Date.parse(p[0])).toFixed(1) + ',' + Y(p[3]).toFixed(1); });
      var dn = seg.slice().reverse().map(function (p) { return X(Date.parse(p[0])).toFixed(1) + ',' + Y(p[2]).toFixed(1); });
      s += '<polygon points="' + up.concat(dn).join(' ') + '" fill="#9fb8d3" fill-opacity="0.45" stroke="none"/>';
    });
    band.forEach(function (p) {
      var x = X(Date.parse(p[0])).toFixed(1);
      s += '<line x1="' + x + '" x2="' + x + '" y1="' + Y(p[2]).toFixed(1) + '" y2="' + Y(p[3]).toFixed(1) + '" stroke="#5f7fa3" stroke-width="1.5"/>';
    });
    if (ref) {
      var rp = ref.filter(function (p) { return p[1] !== null; }).map(function (p) { return X(Date.parse(p[0])).toFixed(1) + ',' + Y(p[1]).toFixed(1); });
      if (rp.length > 1) { s += '<polyline points="' + rp.join(' ') + '" fill="none" stroke="#7b6fb5" stroke-width="1.5" stroke-dasharray="4 3"/>'; }
    }
    segments(pub, expected).forEach(function (seg) {
      var lp = seg.map(function (p) { return X(Date.parse(p[0])).toFixed(1) + ',' + Y(p[1]).toFixed(1); });
      if (lp.length > 1) { s += '<polyline points="' + lp.join(' ') + '" fill="none" stroke="#1f4e79" stroke-width="2"/>'; }
    });
    pub.forEach(function (p) { s += '<circle cx="' + X(Date.parse(p[0])).toFixed(1) + '" cy="' + Y(p[1]).toFixed(1) + '" r="3" fill="#1f4e79"><title>' + esc(p[0] + ': ' + fmtNum(p[1] * scale, 2) + unit + (p[2] !== null ? ' (' + fmtNum(p[2] * scale, 2) + ' – ' + fmtNum(p[3] * scale, 2) + ')' : '')) + '</title></circle>'; });
    markerLabels(markers, X, L, W - R).forEach(function (g) {
      s += '<line x1="' + g.x.toFixed(1) + '" x2="' + g.x.toFixed(1) + '" y1="' + TP + '" y2="' + (H - B) + '" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="5 3"/>';
      s += '<text x="' + g.tx.toFixed(1) + '" y="' + (TP + 10 + MARKER_ROW * g.row) + '" font-size="11" fill="#c0392b" stroke="#fff" stroke-width="3" paint-order="stroke" text-anchor="' + g.anchor + '">' + esc(g.text) + '</text>';
    });
    s += '</svg>';
    return '<div class="chart"><h3>' + esc(title) + '</h3><p class="measure">' + esc(measure) + (unit ? ' (' + esc(unitText(unit)) + ')' : '') + '</p>' + s + '</div>';
  }
  // intervention starts: one line per date (names joined), labels in the first row where they do
  // not overlap an earlier one, drawn left of the line when they would leave the chart
  var MARKER_ROW = 14, CHAR_W = 6.2;
  function markerLabels(markers, X, left, right) {
    var byDate = {};
    markers.forEach(function (m) { (byDate[m.start] = byDate[m.start] || []).push(m.name); });
    var rows = [];
    return Object.keys(byDate).sort().map(function (d) {
      var x = X(Date.parse(d)), text = T.trend_start + ' ' + byDate[d].join(', ');
      var w = CHAR_W * text.length, anchor = x + 4 + w <= right ? 'start' : 'end';
      var a = anchor === 'start' ? x + 4 : Math.max(left, x - 4 - w), b = a + w;
      var row = 0;
      while (rows[row] !== undefined && rows[row] > a - 4) { row += 1; }
      rows[row] = b;
      return {x: x, tx: anchor === 'start' ? x + 4 : x - 4, anchor: anchor, row: row, text: text, from: a, to: b};
    });
  }
  function segments(pts, expected) {
    if (!expected || !expected.length) { return [pts]; }
    var out = [], cur = [], last = -2;
    pts.forEach(function (p) {
      var i = expected.indexOf(p[0]);
      if (cur.length && i !== last + 1) { out.push(cur); cur = []; }
      cur.push(p); last = i;
    });
    if (cur.length) { out.push(cur); }
    return out;
  }
  function expectedDates(code, name) {
    var seen = {};
    [seriesFor(D.national_code, name), seriesFor(code, name)].forEach(function (pts) { (pts || []).forEach(function (p) { seen[p[0]] = true; }); });
    return Object.keys(seen).sort();
  }
  function unitText(u) { return u === '%' ? T.unit_pct : u; }
  function tickUnit(u) { return u === '%' ? '%' : ''; }
  var CHARTS = [['risk_mean', 'trend_risk'], ['share_elevated', 'trend_share'], ['rate_outcome', 'trend_outcome'], ['rate_registered_year', 'trend_context']];
  function sharePublished(level) { return D.elevated_levels.indexOf(level) >= 0; }
  function renderCharts(code, box) {
    var m = markersFor(code);
    var html = '';
    var observed = false;
    CHARTS.forEach(function (c) {
      var name = c[0], u = D.units[name] || '';
      if (name === 'share_elevated' && code !== D.national_code && !sharePublished(levelOf(code))) { return; }
      var ref = code === D.national_code || name === 'share_elevated' ? null : seriesFor(D.national_code, name);
      var one = chart(T[c[1]], (D.measures[state.band] || {})[name] || '', seriesFor(code, name), ref, m, 1, tickUnit(u), expectedDates(code, name));
      if (one && (name === 'rate_outcome' || name === 'rate_registered_year')) { observed = true; }
      if (!one && code !== D.national_code && seriesFor(D.national_code, name) && (levelOf(code) === 'gemeente' || (name !== 'rate_outcome' && name !== 'rate_registered_year'))) {
        one = '<div class="chart"><h3>' + esc(T[c[1]]) + '</h3><p class="note">' + esc(T.trend_hidden) + '</p></div>';
      }
      html += one;
    });
    var key = '<p class="key"><i></i>' + esc(T.key_area) + '<i class="band"></i>' + esc(T.key_interval) +
      (code === D.national_code ? '' : '<i class="ref"></i>' + esc(T.key_national)) + (m.length ? '<i class="start"></i>' + esc(T.key_start) : '') + '</p>';
    var note = !observed && (levelOf(code) === 'wijk' || levelOf(code) === 'buurt') ? '<p class="note">' + esc(T.observed_only_gm) + '</p>' : '';
    if (code !== D.national_code && !sharePublished(levelOf(code))) { note += '<p class="note">' + esc(T.share_not_here.replace('{level}', T['level_' + levelOf(code)])) + '</p>'; }
    box.innerHTML = html ? key + html + note : '<p class="note">' + esc(T.trend_none) + '</p>' + note;
  }

  // ---- drill-down: Nederland > gemeente > wijk > buurt, the same figures at every level ------
  function row(a, current, withShare) {
    return '<tr class="area' + (current ? ' current' : '') + '" data-code="' + esc(a.code) + '" data-level="' + esc(a.level) + '" tabindex="0"><td>' + esc(a.name) + '<br><span class="note">' + esc(a.code) + '</span></td>' +
      '<td class="num">' + fmtInt(a.n) + '</td>' +
      '<td class="num">' + riskCell(a) + '</td>' +
      (withShare ? '<td class="num">' + (a.share === null ? T.na : fmtPct(a.share)) + '</td>' : '') +
      '<td>' + labelHtml(a) + '</td></tr>';
  }
  function crumbs(code) {
    var items = [D.national_code].concat(path(code));
    return '<nav class="crumbs">' + items.map(function (c, i) {
      var txt = c === D.national_code ? T.national : D.names[c] || c;
      return i === items.length - 1 ? '<b>' + esc(txt) + '</b>' : '<a href="#' + esc(c === D.national_code ? '' : c) + '" data-code="' + esc(c) + '">' + esc(txt) + '</a>';
    }).join(' › ') + '</nav>';
  }
  function renderDetail() {
    var box = document.getElementById('detail');
    var code = state.code || D.national_code;
    var a = area(code);
    var head = crumbs(code) + '<h2>' + esc(code === D.national_code ? T.national : a.name) + (code === D.national_code ? '' : ' <span class="note">' + esc(T['level_' + a.level]) + ' · ' + esc(code) + '</span>') + '</h2>';
    head += '<p class="outcome"><b>' + esc(T.outcome) + ' (' + esc(state.band + ' ' + T.years) + '):</b> ' + esc(D.outcomes[state.band] || '') + '</p>';
    head += '<p><span class="big">' + (a.mean === null ? T.na : fmtPct(a.mean)) + '</span> ' +
      (a.mean === null ? '' : '<span class="note">(' + fmtPct(a.lo) + ' – ' + fmtPct(a.hi) + ')</span> ') + labelHtml(a) +
      (a.n === null ? '' : ' <span class="note">· ' + esc(T.col_n) + ': ' + fmtInt(a.n) + '</span>') + '</p>';
    box.innerHTML = head + '<div class="charts" id="charts-main"></div>';
    renderCharts(code, document.getElementById('charts-main'));
    var tbox = document.getElementById('table-box');
    if (!state.code) { tbox.innerHTML = '<p class="note">' + esc(T.map_hint) + '</p>'; return; }
    var lev = levelOf(code);
    var list = lev === 'buurt' ? children(parentOf(code)) : children(code);
    var title = '<h3>' + esc(T['children_' + lev]) + (lev === 'buurt' ? '' : ' · ' + esc(a.name)) + '</h3>';
    if (!list.length) { tbox.innerHTML = title + '<p class="note">' + esc(T.children_none) + '</p>'; return; }
    var withShare = sharePublished(list[0].level);
    var h = title + '<table><thead><tr><th>' + esc(T.col_area) + '</th><th>' + esc(T.col_n) + '</th><th>' +
      esc(T.col_risk) + '</th>' + (withShare ? '<th>' + esc(T.col_share) + '</th>' : '') + '<th>' + esc(T.col_label) + '</th></tr></thead><tbody>';
    list.forEach(function (c) { h += row(c, c.code === code, withShare); });
    tbox.innerHTML = h + '</tbody></table>' +
      (withShare ? '' : '<p class="note">' + esc(T.share_not_here.replace('{level}', T['level_' + list[0].level])) + '</p>');
  }
  function fromEvent(ev) {
    var el = ev.target.closest('[data-code]');
    if (!el) { return; }
    ev.preventDefault();
    var c = el.getAttribute('data-code');
    select(c === D.national_code ? null : c);
  }
  document.getElementById('table-box').addEventListener('click', fromEvent);
  document.getElementById('detail').addEventListener('click', fromEvent);
  document.getElementById('table-box').addEventListener('keydown', function (ev) { if (ev.key === 'Enter') { fromEvent(ev); } });

  // ---- effects ---------------------------------------------------------------------------------
  function bound(x) { return x === '-inf' ? -Infinity : x === 'inf' ? Infinity : x; }
  function reading(e) {
    var lo = bound(e.lo), hi = bound(e.hi);
    if (e.reason && e.est !== null) { return T.reading_unbounded; }
    if (lo === null || hi === null || e.est === null) { return T.na; }
    var placebo = e.method.indexOf('placebo') === 0;
    var covers = lo <= 0 && hi >= 0;
    if (placebo) { return covers ? T.reading_placebo_ok : T.reading_placebo_bad; }
    if (covers) { return T.reading_none; }
    return hi < 0 ? T.reading_down : T.reading_up;
  }
  function methodText(m) {
    if (m.indexOf('placebo_time:') === 0) { return T.method_placebo_time; }
    if (m.indexOf('placebo_space:') === 0) { return T.method_placebo_space; }
    return T['method_' + m] || m;
  }
  function renderEffects() {
    var box = document.getElementById('effects');
    if (!D.interventions.length) { box.innerHTML = '<p class="note">' + esc(T.effects_none) + '</p>'; return; }
    var withOutcome = D.interventions.some(function (iv) { return iv.outcome; });
    var h = '<table><thead><tr><th>' + esc(T.col_intervention) + '</th><th>' + esc(T.col_areas) + '</th><th>' + esc(T.band) +
      '</th><th>' + esc(T.trend_start) + '</th>' + (withOutcome ? '<th>' + esc(T.outcome) + '</th>' : '') + '<th>' + esc(T.col_method) + '</th><th>' + esc(T.col_estimate) + '</th><th>' + esc(T.col_reading) + '</th></tr></thead><tbody>';
    D.interventions.forEach(function (iv) {
      var names = iv.areas.map(function (c) { return D.names[c] || c; });
      var effs = iv.effects.length ? iv.effects : [null];
      effs.forEach(function (e, i) {
        h += '<tr>' + (i === 0 ? '<td rowspan="' + effs.length + '">' + esc(iv.name) + ' <span class="note">' + esc(iv.id) + '</span></td><td rowspan="' + effs.length + '">' + esc(names.join(', ')) +
          '</td><td rowspan="' + effs.length + '">' + esc(iv.bands.join(', ')) + '</td><td rowspan="' + effs.length + '">' + esc(iv.start) + '</td>' +
          (withOutcome ? '<td rowspan="' + effs.length + '">' + esc(iv.outcome || T.na) + '</td>' : '') : '');
        if (e) {
          var interval = e.reason && e.est !== null ? esc(T.interval_unbounded) : fmtNum(bound(e.lo), 1) + ' – ' + fmtNum(bound(e.hi), 1);
          h += '<td>' + esc(methodText(e.method)) + '</td><td class="num">' + fmtNum(e.est, 1) + ' (' + interval + ')</td><td>' + esc(reading(e)) + '</td>';
        } else {
          h += '<td colspan="3" class="note">' + esc(T.na) + '</td>';
        }
        h += '</tr>';
      });
    });
    box.innerHTML = h + '</tbody></table>';
  }

  function select(code) {
    state.code = code && D.names[code] ? code : null;
    sel.value = gmOf(state.code) || '';
    try { history.replaceState(null, '', '#' + (state.code ? state.code + '&' : '') + 'band=' + state.band); } catch (err) { /* file: pages may refuse */ }
    renderAll();
  }
  function renderAll() {
    Array.prototype.forEach.call(bandBox.querySelectorAll('button'), function (b) {
      b.setAttribute('aria-pressed', b.getAttribute('data-band') === state.band ? 'true' : 'false');
    });
    renderMap();
    renderDetail();
    renderEffects();
  }
  // deep link: #BU02020101&band=13-19 (any level; the older #GMgggg/WKggggww form also works)
  (function () {
    var h = decodeURIComponent((location.hash || '').replace(/^#/, ''));
    h.split('&').forEach(function (part) {
      if (part.indexOf('band=') === 0) { if (D.bands.indexOf(part.substr(5)) >= 0) { state.band = part.substr(5); } return; }
      var bits = part.split('/').filter(function (b) { return D.names[b]; });
      if (bits.length) { state.code = bits[bits.length - 1]; }
    });
    sel.value = gmOf(state.code) || '';
  })();
  renderAll();
  document.body.setAttribute('data-rendered', 'ok');
})();
