// The meshinfer dashboard: polls this node's JSON endpoints every POLL_MS and renders
// members, replicas, models with their traffic split, rollout and attestation, and
// hand-drawn SVG charts of throughput, latency and batch size. Nothing is loaded from
// anywhere but this node. Rates come from the difference of two /v1/ui/stats samples,
// timed by the node's own clock ("at"), so a slow or paused browser does not skew them.
// With authentication on, the JSON endpoints need a bearer token: the user pastes one into
// the token field, the page keeps it in sessionStorage (this tab only; never in the URL or
// localStorage) and sends it as "Authorization: Bearer ..."; a 401 or 403 shows the
// "authentication required" state instead of charts.
'use strict';
(() => {
  const POLL_MS = 2000;
  const FETCH_TIMEOUT_MS = 5000;
  const WINDOW_MS = 5 * 60 * 1000;
  const RATE_WINDOW_MS = 10 * 1000;
  const MAX_POINTS = 200;
  const COLOURS = 8;
  const SVG = 'http://www.w3.org/2000/svg';
  const TOKEN_KEY = 'meshinfer.dashboard.token';

  let previous = null;      // the last /v1/ui/stats sample
  const recent = [];        // {at, total, errors} of the last RATE_WINDOW_MS, for the headline rate
  const points = [];        // {at, series: {key: {rps, p50, p95, batch}}}, at most WINDOW_MS / MAX_POINTS
  const colourOf = new Map();

  // ---- small helpers ----

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true && !k.startsWith('data-') ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fill(id, ...children) {
    document.querySelector('#' + id + ' .content').replaceChildren(...children);
  }

  function num(v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    return v.toFixed(digits) + (unit ? ' ' + unit : '');
  }

  function bytes(v) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
  }

  // a member's estimated replica memory against its memory budget (none: no limit)
  function memory(m) {
    const allocated = bytes(m.memoryAllocated || 0);
    return m.memoryBudget === null || m.memoryBudget === undefined ? `${allocated} (no budget)`
      : `${allocated} of ${bytes(m.memoryBudget)}`;
  }

  function duration(millis) {
    const s = millis / 1000;
    return s < 10 ? `${s.toFixed(1)} s` : s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
  }

  const ms = (seconds) => (seconds === null || seconds === undefined ? null : seconds * 1000);
  const key = (model, version) => model + '@' + (version === '' ? '(none)' : version);

  function colour(k) {
    if (!colourOf.has(k)) colourOf.set(k, colourOf.size % COLOURS);
    return 'c' + colourOf.get(k);
  }

  // ---- the bearer token: this tab's session only ----

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return ''; // storage disabled: the page works without authentication only
    }
  }

  function storeToken(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      // storage disabled: nothing to keep
    }
  }

  // A 401 (no or bad token) or 403 (a token without the right) from one of this node's endpoints.
  class AuthError extends Error {
    constructor(status, path) {
      super(path + ' answered HTTP ' + status);
      this.status = status;
    }
  }

  async function getJson(path, missingIsNull) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    const token = storedToken();
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    try {
      const r = await fetch(path, { signal: abort.signal, cache: 'no-store', headers, credentials: 'omit' });
      if (r.status === 401 || r.status === 403) throw new AuthError(r.status, path);
      if (missingIsNull && r.status === 404) return null;
      if (!r.ok) throw new Error(path + ' answered HTTP ' + r.status);
      return await r.json();
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- sampling: rates and recent quantiles from two cumulative samples ----

  // The q quantile of per-bucket counts (the last bucket above every bound), interpolated
  // inside its bucket as Prometheus' histogram_quantile does; null without observations.
  function quantile(q, bounds, counts) {
    const total = counts.reduce((a, b) => a + b, 0);
    if (total <= 0) return null;
    const rank = q * total;
    let seen = 0;
    let lower = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] > 0 && seen + counts[i] >= rank) {
        if (i >= bounds.length) return lower;
        return lower + (bounds[i] - lower) * Math.max(0, rank - seen) / counts[i];
      }
      seen += counts[i];
      if (i < bounds.length) lower = bounds[i];
    }
    return lower;
  }

  function addSample(stats) {
    const byKey = new Map(stats.versions.map((v) => [key(v.model, v.version), v]));
    const total = stats.versions.reduce((a, v) => a + v.total, 0);
    const errors = stats.versions.reduce((a, v) => a + v.errors, 0);
    if (previous && stats.at === previous.at) return; // no time passed: nothing to divide by
    if (previous && (stats.at < previous.at || total < previous.total)) {
      previous = null; // the node restarted (counters reset) or its clock went back
      recent.length = 0;
    }
    recent.push({ at: stats.at, total, errors });
    while (recent.length > 2 && recent[1].at <= stats.at - RATE_WINDOW_MS) recent.shift();
    if (previous) {
      const dt = (stats.at - previous.at) / 1000;
      const series = {};
      for (const [k, v] of byKey) {
        const p = previous.byKey.get(k);
        const before = p || { total: 0, latency: { counts: [] }, batch: { runs: 0, rows: 0 } };
        const delta = v.latency.counts.map((c, i) => c - (before.latency.counts[i] || 0));
        const runs = v.batch.runs - before.batch.runs;
        series[k] = {
          rps: Math.max(0, v.total - before.total) / dt,
          p50: ms(quantile(0.5, v.latency.bounds, delta)),
          p95: ms(quantile(0.95, v.latency.bounds, delta)),
          batch: runs > 0 ? (v.batch.rows - before.batch.rows) / runs : null,
        };
      }
      points.push({ at: stats.at, series });
      while (points.length > MAX_POINTS || (points.length && points[0].at < stats.at - WINDOW_MS)) points.shift();
    }
    previous = { at: stats.at, total, byKey };
  }

  function headline() {
    const first = recent[0];
    const last = recent[recent.length - 1];
    const dt = recent.length > 1 ? (last.at - first.at) / 1000 : 0;
    const rps = dt > 0 ? (last.total - first.total) / dt : null;
    const eps = dt > 0 ? (last.errors - first.errors) / dt : null;
    for (const [id, v, unit] of [['throughput', rps, 'req/s'], ['errors', eps, 'errors/s']]) {
      const out = document.getElementById(id);
      out.textContent = v === null ? 'measuring…' : num(v, unit);
      out.dataset.value = v === null ? '0' : v.toFixed(3);
    }
  }

  // ---- charts: hand-written SVG ----

  const W = 440, H = 170, M = { left: 44, right: 10, top: 10, bottom: 22 };

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }

  // lines: [{key, label, dashed, values: [[at, value|null], ...]}]
  function chart(id, title, unit, lines) {
    const box = document.getElementById(id);
    const figure = box.closest('figure');
    const drawn = lines.map((l) => ({ ...l, values: l.values.filter(([, v]) => v !== null && isFinite(v)) }))
      .filter((l) => l.values.length > 0);
    const all = drawn.flatMap((l) => l.values);
    const tMax = all.length ? Math.max(...all.map(([t]) => t)) : Date.now();
    let tMin = all.length > 1 ? Math.min(...all.map(([t]) => t)) : tMax;
    if (tMax - tMin < 1) tMin = tMax - POLL_MS;
    const span = duration(tMax - tMin);
    const yMax = niceMax(Math.max(0, ...all.map(([, v]) => v)));
    const x = (t) => M.left + (W - M.left - M.right) * (t - tMin) / (tMax - tMin);
    const y = (v) => H - M.bottom - (H - M.top - M.bottom) * v / yMax;

    const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`,
      class: 'plot', 'data-series': drawn.length });
    s.append(svg('title', { id: `${id}-t` }, title));
    const summary = drawn.map((l) => {
      const vs = l.values.map(([, v]) => v);
      return `${l.label}: latest ${num(vs[vs.length - 1], unit)}, peak ${num(Math.max(...vs), unit)}`;
    });
    s.append(svg('desc', { id: `${id}-d` }, all.length
      ? `${title} over the last ${span}. ${summary.join('; ')}.`
      : `${title}: no data yet.`));
    for (const f of [0, 0.5, 1]) {
      s.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(yMax * f), y2: y(yMax * f), class: 'grid' }));
      s.append(svg('text', { x: M.left - 4, y: y(yMax * f) + 4, class: 'tick', 'text-anchor': 'end' },
        f === 0 ? '0' : num(yMax * f)));
    }
    s.append(svg('text', { x: M.left, y: H - 6, class: 'tick' }, `-${span}`));
    s.append(svg('text', { x: W - M.right, y: H - 6, class: 'tick', 'text-anchor': 'end' }, 'now'));
    for (const l of drawn) {
      const pts = l.values.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      s.append(svg('polyline', { points: pts.join(' '), class: `line ${colour(l.key)}${l.dashed ? ' dashed' : ''}`,
        'data-key': l.key, 'data-points': pts.length }));
      const [t, v] = l.values[l.values.length - 1];
      s.append(svg('circle', { cx: x(t), cy: y(v), r: 2.5, class: `dot ${colour(l.key)}` }));
    }
    if (!all.length) {
      s.append(svg('text', { x: W / 2, y: H / 2, class: 'tick', 'text-anchor': 'middle' }, 'no traffic yet'));
    }
    box.replaceChildren(s);
    figure.querySelector('.legend').replaceChildren(...drawn.map((l, i) =>
      el('li', {}, el('span', { class: `swatch ${colour(l.key)}${l.dashed ? ' dashed' : ''}`, 'aria-hidden': 'true' }),
        summary[i])));
  }

  function charts() {
    const keys = [...new Set(points.flatMap((p) => Object.keys(p.series)))].sort();
    const series = (k, field) => points.map((p) => [p.at, p.series[k] ? p.series[k][field] : null]);
    chart('chart-throughput', 'Throughput', 'req/s', keys.map((k) => ({ key: k, label: k, values: series(k, 'rps') })));
    chart('chart-latency', 'Latency', 'ms', keys.flatMap((k) => [
      { key: k, label: `${k} p50`, values: series(k, 'p50') },
      { key: k, label: `${k} p95`, dashed: true, values: series(k, 'p95') }]));
    chart('chart-batch', 'Mean batch size', 'rows', keys.map((k) => ({ key: k, label: k, values: series(k, 'batch') })));
  }

  // ---- cluster tables ----

  function members(c) {
    if (!c.members.length) {
      return fill('members', el('p', { class: 'empty' }, 'No members yet: this node is joining its cluster.'));
    }
    const regions = [...new Set(c.members.map((m) => m.region))].sort();
    const table = el('table', {},
      el('caption', { class: 'visually-hidden' }, 'Cluster members grouped by region'),
      el('thead', {}, el('tr', {}, ['Node', 'Zone', 'Status', 'Reachability', 'Memory (estimated)'].map((h) => el('th', { scope: 'col' }, h)))));
    for (const region of regions) {
      const inRegion = c.members.filter((m) => m.region === region);
      const body = el('tbody', { 'data-region': region },
        el('tr', { class: 'group' }, el('th', { colspan: 5, scope: 'rowgroup' },
          `${region} (${inRegion.length} member${inRegion.length === 1 ? '' : 's'})`)));
      for (const m of inRegion) {
        const self = m.address === c.self;
        const name = self || !m.http ? el('span', {}, m.name)
          : el('a', { href: `http://${m.http}/ui`, title: `open ${m.name}'s dashboard` }, m.name);
        body.append(el('tr', { 'data-member': m.name, 'data-region': m.region, 'data-status': m.status,
          'data-reachable': m.reachable },
        el('th', { scope: 'row' }, name, self ? ' (this node)' : '', m.address === c.leader ? ' (leader)' : ''),
        el('td', {}, m.zone),
        el('td', { class: m.status === 'Up' ? 'ok' : 'warn' }, m.status),
        el('td', { class: m.reachable ? 'ok' : 'bad' }, m.reachable ? '✓ reachable' : '✗ unreachable'),
        el('td', {}, memory(m))));
      }
      table.append(body);
    }
    fill('members', table);
  }

  function replicas(c) {
    const local = new Map((c.local || []).map((r) => [r.replica, r]));
    const nodes = [...new Set([...c.members.map((m) => m.name), ...c.replicas.map((r) => r.node)])].sort();
    if (!c.replicas.length) return fill('replicas', el('p', { class: 'empty' }, 'No replicas placed.'));
    const table = el('table', {},
      el('caption', { class: 'visually-hidden' }, 'Model replicas grouped by the node hosting them'),
      el('thead', {}, el('tr', {}, ['Replica', 'Status', 'Requests run', 'Mean batch'].map((h) =>
        el('th', { scope: 'col' }, h)))));
    for (const node of nodes) {
      const rs = c.replicas.filter((r) => r.node === node);
      const body = el('tbody', { 'data-node': node }, el('tr', { class: 'group' },
        el('th', { colspan: 4, scope: 'rowgroup' }, `${node}: ${rs.length} replica${rs.length === 1 ? '' : 's'}`)));
      for (const r of rs) {
        const id = `${r.model}@${r.version}#${r.replica}`;
        const l = node === c.selfName ? local.get(id) : undefined;
        body.append(el('tr', { 'data-replica': id, 'data-ready': r.ready },
          el('th', { scope: 'row' }, id),
          el('td', { class: r.ready ? 'ok' : 'warn' }, r.ready ? '✓ ready' : r.status),
          el('td', { class: 'n' }, l ? l.requests : '–'),
          el('td', { class: 'n' }, l ? num(l.meanBatch) : '–')));
      }
      table.append(body);
    }
    fill('replicas', table);
  }

  function attestation(a) {
    if (!a) return el('td', {}, '–');
    const attrs = { 'data-attested': a.attested, 'data-failed': a.failed.length };
    if (!a.golden) return el('td', attrs, 'no golden vectors');
    if (a.failed.length) {
      return el('td', { ...attrs, class: 'bad' }, `✗ failed on ${a.failed.join(', ')} (${a.passed}/${a.attested} passed)`);
    }
    if (!a.attested) return el('td', { ...attrs, class: 'warn' }, 'pending');
    return el('td', { ...attrs, class: 'ok' }, `✓ ${a.passed}/${a.attested} nodes`);
  }

  // Drift status is not in /v1/cluster yet; show it wherever it appears, per version.
  function drift(c, m, version) {
    const d = (m.drift && (m.drift[version] !== undefined ? m.drift[version] : null))
      || (m.attestations && m.attestations[version] && m.attestations[version].drift)
      || (Array.isArray(c.drift) && c.drift.find((x) => x.model === m.model && x.version === version));
    if (!d) return el('td', { title: 'no drift status reported' }, '–');
    const text = typeof d === 'object'
      ? (d.status || d.state || (d.drifted || d.drifting ? 'drifted'
        : (d.maxPsi === null || d.maxPsi === undefined ? 'collecting' : 'no drift')))
      : String(d);
    const bad = /drift(ing|ed)?$|alert|bad/i.test(text) && !/^no /i.test(text);
    return el('td', { class: bad ? 'bad' : 'ok', title: JSON.stringify(d), 'data-drift': text }, text);
  }

  function rolloutLine(r) {
    if (!r) return el('p', { class: 'rollout' }, 'No rollout.');
    const steps = r.steps || [];
    return el('p', { class: 'rollout', 'data-rollout-state': r.state },
      `Latest rollout ${r.from} → ${r.to} (${r.strategy}): `, el('strong', {}, r.state),
      `, step ${r.step} of ${steps.length} (${r.percent} % to ${r.to})`, r.reason ? ` — ${r.reason}` : '');
  }

  function models(c, rollouts, stats) {
    if (!c.models.length) return fill('models', el('p', { class: 'empty' }, 'No models deployed.'));
    const statsOf = new Map((stats ? stats.versions : []).map((v) => [key(v.model, v.version), v]));
    const rateOf = (k) => (points.length ? (points[points.length - 1].series[k] || {}).rps : null);
    fill('models', ...c.models.map((m, i) => {
      const table = el('table', {},
        el('caption', { class: 'visually-hidden' }, `Versions of ${m.model}`),
        el('thead', {}, el('tr', {}, ['Version', 'Traffic', 'Replicas ready', 'Attestation', 'Drift', 'Req/s here',
          'Requests here', 'p50 / p95 / p99 since start'].map((h) => el('th', { scope: 'col' }, h)))));
      const body = el('tbody');
      for (const v of m.versions) {
        const weight = (m.weights || {})[v] || 0;
        const reps = c.replicas.filter((r) => r.model === m.model && r.version === v);
        const s = statsOf.get(key(m.model, v));
        const lat = s ? s.latency : {};
        body.append(el('tr', { 'data-model': m.model, 'data-version': v, 'data-weight': weight },
          el('th', { scope: 'row' }, v),
          el('td', { class: 'weight' }, el('meter', { min: 0, max: 100, value: weight, 'aria-hidden': 'true' }),
            ` ${weight} %`),
          el('td', { class: 'n' }, `${reps.filter((r) => r.ready).length}/${reps.length}`),
          attestation((m.attestations || {})[v]),
          drift(c, m, v),
          el('td', { class: 'n' }, num(rateOf(key(m.model, v)))),
          el('td', { class: 'n' }, s ? `${s.total}${s.errors ? ` (${s.errors} failed)` : ''}` : '0'),
          el('td', { class: 'n' }, [lat.p50, lat.p95, lat.p99].map((q) => num(ms(q))).join(' / ') + ' ms')));
      }
      table.append(body);
      return el('article', { 'data-model': m.model }, el('h3', {}, m.model), rolloutLine(rollouts[i]), table);
    }));
  }

  function header(c, at) {
    document.getElementById('node-name').textContent = `· ${c.selfName} (${c.region}/${c.zone})`;
    document.title = `meshinfer · ${c.selfName}`;
    const up = c.members.filter((m) => m.status === 'Up').length;
    const unreachable = c.members.filter((m) => !m.reachable).length;
    setStatus(`Updated ${new Date(at).toLocaleTimeString()} · ${c.members.length} members, ${up} up`
      + (unreachable ? `, ${unreachable} unreachable` : ''));
    const self = c.members.find((m) => m.address === c.self);
    let banner = null;
    if (c.islandMode && !self) {
      banner = 'Not in a cluster yet: this node is joining its seeds (or rejoining after being cut off);'
        + ' until then it serves allowed requests from its own replicas (island mode).';
    } else if (c.islandMode) {
      banner = 'Island mode: this node is cut off from its cluster and serves allowed requests from its own replicas.';
    } else if (!self || self.status !== 'Up') {
      banner = `The cluster is forming: this node is ${self ? self.status : 'not a member yet'}.`;
    } else if (unreachable) {
      banner = `${unreachable} member${unreachable === 1 ? ' is' : 's are'} unreachable from this node.`;
    }
    const b = document.getElementById('banner');
    b.hidden = !banner;
    b.textContent = banner || '';
  }

  function setStatus(text, failed) {
    const s = document.getElementById('status');
    s.textContent = text;
    s.classList.toggle('bad', Boolean(failed));
  }

  // ---- authentication state ----

  function authState(state, message) {
    document.body.dataset.auth = state;
    const panel = document.getElementById('auth');
    const needed = state === 'required' || state === 'forbidden';
    panel.hidden = !needed;
    if (needed) {
      document.getElementById('auth-title').textContent = state === 'forbidden'
        ? 'Permission denied' : 'Authentication required';
      document.getElementById('auth-message').textContent = message;
    }
    document.getElementById('token-status').hidden = !storedToken();
  }

  // Nothing stale on screen while the node refuses us: the sections say why they are empty.
  function showRefused(e) {
    const had = storedToken();
    const state = e.status === 403 ? 'forbidden' : 'required';
    const message = e.status === 403
      ? 'This node refused the token (403): it does not allow reading this node\'s status. Enter another token.'
      : had
        ? 'This node refused the token (401): it is expired, malformed or signed by another key. Enter a valid token.'
        : 'This node runs with authentication: its status needs a bearer token. Enter one to see it.';
    authState(state, message);
    previous = null;
    recent.length = 0;
    points.length = 0;
    const what = state === 'forbidden' ? 'Permission denied' : 'Authentication required';
    for (const id of ['members', 'replicas', 'models']) {
      fill(id, el('p', { class: 'empty auth-needed' }, `${what}: no data without a valid token.`));
    }
    for (const id of ['chart-throughput', 'chart-latency', 'chart-batch']) {
      const box = document.getElementById(id);
      box.replaceChildren(el('p', { class: 'empty auth-needed' }, `${what}.`));
      box.closest('figure').querySelector('.legend').replaceChildren();
    }
    for (const id of ['throughput', 'errors']) {
      const out = document.getElementById(id);
      out.textContent = '–';
      out.dataset.value = '0';
    }
    document.getElementById('banner').hidden = true;
    setStatus(`${what} (${e.message}); retrying every ${POLL_MS / 1000} s.`, true);
  }

  // ---- the loop: one poll at a time, the next one POLL_MS after the last ends ----

  let timer = null;
  let polling = false;
  let again = false; // a new token arrived while a poll was in flight: poll again at once

  async function poll() {
    if (polling) {
      again = true;
      return;
    }
    polling = true;
    clearTimeout(timer);
    try {
      const [cluster, stats] = await Promise.all([getJson('/v1/cluster'), getJson('/v1/ui/stats')]);
      const rollouts = await Promise.all(cluster.models.map((m) =>
        getJson(`/v1/models/${encodeURIComponent(m.model)}/rollout`, true).catch(() => null)));
      authState(storedToken() ? 'token' : 'open');
      addSample(stats);
      header(cluster, stats.at);
      members(cluster);
      replicas(cluster);
      models(cluster, rollouts, stats);
      headline();
      charts();
    } catch (e) {
      if (e instanceof AuthError) showRefused(e);
      else setStatus(`Cannot read this node's status (${e.message}); retrying every ${POLL_MS / 1000} s.`, true);
    } finally {
      polling = false;
      timer = setTimeout(poll, again ? 0 : POLL_MS);
      again = false;
    }
  }

  function useToken() {
    const input = document.getElementById('token');
    const value = input.value.trim().replace(/^Bearer\s+/i, '');
    input.value = '';
    if (!value) return;
    storeToken(value);
    poll();
  }

  document.getElementById('token-use').addEventListener('click', useToken);
  document.getElementById('token').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') useToken();
  });
  document.getElementById('token-forget').addEventListener('click', () => {
    storeToken('');
    poll();
  });

  poll();
})();
