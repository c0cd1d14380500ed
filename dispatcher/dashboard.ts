/**
 * The dashboard (`GET /` on the admin port): one page, no build step, that draws the fleet (hosts,
 * their cores, every VM with its technique, paging, state, CPU and steal), the dispatcher's
 * backends and queue, 60 s rolling charts and the policy periods, from the frames the admin port
 * pushes once a second as server-sent events (`/events`, see admin-api.ts). It polls nothing.
 *
 * Controls (policy, weight, drain, the model's fault buttons) call the token-protected admin API
 * with `Authorization: Bearer`; the page asks for the token, checks it (`GET /auth`) and keeps it
 * in sessionStorage only (gone when the tab closes; never in a URL or a cookie). Without it the
 * controls are disabled and the API refuses them anyway.
 *
 * The script and style are separate resources (`/dashboard.js`, `/dashboard.css`) so the page's
 * Content-Security-Policy can forbid inline code. Everything the frames carry is put in the page
 * with textContent, never parsed as HTML.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dispatchlab dashboard</title>
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>dispatchlab</h1>
  <div class="summary">
    <span>policy <strong id="policy">?</strong></span>
    <span><strong id="total-rps">0</strong> req/s</span>
    <span>p50 <strong id="total-p50">-</strong></span>
    <span>p99 <strong id="total-p99">-</strong></span>
    <span>errors <strong id="total-errors">0</strong>/s</span>
    <span>queue <strong id="queue">0</strong></span>
    <span id="conn" class="conn">connecting…</span>
  </div>
  <form id="token-form" class="auth">
    <span id="auth-state" class="readonly">read-only</span>
    <input id="token" type="password" autocomplete="off" placeholder="admin token" aria-label="admin token">
    <button id="unlock" type="submit">Unlock controls</button>
    <button id="lock" type="button" hidden>Lock</button>
  </form>
</header>
<p id="message" role="status"></p>
<main>
  <section>
    <h2>Fleet</h2>
    <div id="fleet"></div>
  </section>
  <section>
    <h2>Last 60 s <span class="hint">(dashed lines: policy changes)</span></h2>
    <div id="legend" class="legend"></div>
    <div class="charts">
      <figure><figcaption>requests/s</figcaption><svg id="chart-rps" viewBox="0 0 480 150"></svg></figure>
      <figure><figcaption>errors/s</figcaption><svg id="chart-errors" viewBox="0 0 480 150"></svg></figure>
      <figure><figcaption>p50 latency (ms)</figcaption><svg id="chart-p50" viewBox="0 0 480 150"></svg></figure>
      <figure><figcaption>p99 latency (ms)</figcaption><svg id="chart-p99" viewBox="0 0 480 150"></svg></figure>
    </div>
  </section>
  <section>
    <div>
      <h2>Backends</h2>
      <table>
        <thead><tr><th>backend</th><th>state</th><th>in flight</th><th>weight</th><th>req/s</th><th>p99</th><th>share (this policy)</th><th></th></tr></thead>
        <tbody id="backends"></tbody>
      </table>
    </div>
    <div>
      <h2>Policy</h2>
      <div class="policy-form">
        <select id="policy-name" aria-label="policy" class="control"></select>
        <input id="policy-options" class="control" value="{}" aria-label="policy options (JSON)" spellcheck="false">
        <button id="policy-apply" class="control" type="button">Switch policy</button>
      </div>
      <h3>Shares per policy period</h3>
      <div id="periods"></div>
    </div>
  </section>
  <p class="links"><a href="metrics">Prometheus metrics</a> · <a href="dashboard.json">this frame as JSON</a> · <a href="backends">backends</a> · <a href="policy">policy</a></p>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `
* { box-sizing: border-box; }
body { font: 13px/1.35 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5em 1.5em; padding: .6em 1.2em; background: #fff; border-bottom: 1px solid #d0d7de; }
h1 { font-size: 1.3em; margin: 0; }
h2 { font-size: 1.05em; margin: .2em 0 .5em; }
h3 { font-size: .95em; margin: 1em 0 .4em; }
main { padding: .6em 1.2em 2em; }
section { margin-bottom: 1.2em; }
.summary { display: flex; flex-wrap: wrap; gap: .3em 1.1em; }
.summary strong { font-variant-numeric: tabular-nums; }
.conn { color: #57606a; } .conn.live { color: #1a7f37; } .conn.down { color: #cf222e; }
.auth { margin-left: auto; display: flex; gap: .4em; align-items: center; }
.readonly { color: #9a6700; } .unlocked { color: #1a7f37; font-weight: 600; }
#message { margin: 0; padding: .3em 1.2em; min-height: 1.8em; color: #57606a; }
#message.error { color: #cf222e; }
.hint { font-weight: normal; color: #57606a; font-size: .9em; }
#fleet { display: flex; flex-wrap: wrap; gap: .8em; align-items: flex-start; }
.host { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .6em; min-width: 20em; }
.host.unreachable { opacity: .6; }
.host-head { display: flex; flex-wrap: wrap; gap: .2em .8em; align-items: baseline; }
.host-head .meta { color: #57606a; }
.owner { color: #9a6700; font-weight: 600; }
.cores { display: flex; gap: 3px; margin: .4em 0; }
.core { width: 2.2em; height: .9em; border: 1px solid #8c959f; border-radius: 2px; background: #fff; position: relative; overflow: hidden; }
.core i { position: absolute; inset: 0 auto 0 0; background: #0969da; }
.host-controls { display: flex; gap: .3em; align-items: center; margin: .2em 0 .4em; }
.host-controls input { width: 4.5em; }
.vms { display: flex; flex-wrap: wrap; gap: .5em; }
.host-vms > summary, .backends-fold > summary { cursor: pointer; margin: .2em 0 .4em; color: #57606a; }
.vm { border: 1px solid #d0d7de; border-left: 4px solid #1a7f37; border-radius: 4px; padding: .35em .5em; width: 16.5em; background: #fff; }
.vm.neighbour { background: #f6f8fa; border-left-color: #8c959f; }
.vm[data-status=suspended], .vm[data-status=migrating] { border-left-color: #bf8700; }
.vm[data-status=crashed] { border-left-color: #cf222e; background: #ffebe9; }
.vm-head { display: flex; justify-content: space-between; gap: .4em; }
.vm .tech, .vm .size { color: #57606a; font-size: .92em; }
.status { font-weight: 600; }
.status.running { color: #1a7f37; } .status.suspended, .status.migrating { color: #9a6700; } .status.crashed { color: #cf222e; }
.bar { height: .6em; background: #eaeef2; border-radius: 2px; margin: .25em 0 .1em; display: flex; overflow: hidden; }
.bar .cpu { background: #0969da; } .bar .steal { background: #cf222e; }
.nums { display: flex; flex-wrap: wrap; gap: 0 .7em; font-variant-numeric: tabular-nums; }
.vm-controls { display: flex; flex-wrap: wrap; gap: .25em; margin-top: .3em; }
button, select, input { font: inherit; }
button { padding: .1em .5em; border: 1px solid #d0d7de; border-radius: 4px; background: #f6f8fa; cursor: pointer; }
button:disabled, select:disabled, input:disabled { cursor: not-allowed; opacity: .5; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: .6em; }
@media (max-width: 60em) { .charts { grid-template-columns: minmax(0, 1fr); } }
figure { margin: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .3em .5em; }
figcaption { font-weight: 600; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 9px system-ui, sans-serif; fill: #57606a; }
svg .grid { stroke: #eaeef2; } svg .marker { stroke: #8250df; stroke-dasharray: 4 3; } svg text.marker-label { fill: #8250df; }
.legend { display: flex; flex-wrap: wrap; gap: .2em 1em; margin-bottom: .3em; }
.legend i { display: inline-block; width: 1.2em; height: .25em; vertical-align: middle; margin-right: .3em; }
#periods { display: grid; grid-template-columns: repeat(auto-fill, minmax(24em, 1fr)); gap: .4em; }
table { border-collapse: collapse; background: #fff; }
th, td { padding: .25em .5em; border-bottom: 1px solid #eaeef2; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, td.state { text-align: left; }
td.state.healthy { color: #1a7f37; } td.state.draining { color: #9a6700; } td.state.ejected, td.state.down { color: #cf222e; }
td input { width: 4em; }
td.controls { display: flex; gap: .25em; }
.share { display: inline-block; height: .6em; background: #0969da; vertical-align: middle; margin-right: .3em; }
.policy-form { display: flex; gap: .4em; flex-wrap: wrap; max-width: 50em; }
.policy-form input { flex: 1; min-width: 10em; font-family: ui-monospace, monospace; }
.period { background: #fff; border: 1px solid #d0d7de; border-radius: 4px; padding: .3em .5em; }
.period.current { border-color: #0969da; }
.period-head { display: flex; justify-content: space-between; gap: .6em; }
.period-head strong { white-space: nowrap; }
.period .row { display: grid; grid-template-columns: 7em 1fr 6em; gap: .4em; align-items: center; font-variant-numeric: tabular-nums; }
.links { color: #57606a; }
`;

export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var TOKEN_KEY = 'dispatchlab.adminToken';
  var COLORS = ['#0969da', '#bf3989', '#1a7f37', '#bc4c00', '#8250df', '#0a7b83', '#9a6700', '#6e7781', '#cf222e', '#116329'];
  var WINDOW_MS = 60000;
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem(TOKEN_KEY);
  var frame = null;
  var colorOf = {};
  var fleetKey = '';
  var backendKey = '';
  var policyKey = '';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(v, digits) { return v === undefined || v === null ? '-' : Number(v).toFixed(digits); }
  function ms(v) { return v > 0 ? (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)) + ' ms' : '-'; }
  function say(text, isError) { var m = $('message'); m.textContent = text; m.className = isError ? 'error' : ''; }
  function last(points) { return points && points.length ? points[points.length - 1] : null; }

  // Controls: every change goes through the admin API with the token in the Authorization header.
  function setUnlocked(on) {
    $('auth-state').textContent = on ? 'controls unlocked' : 'read-only';
    $('auth-state').className = on ? 'unlocked' : 'readonly';
    $('token').hidden = on; $('unlock').hidden = on; $('lock').hidden = !on;
    refreshDisabled();
  }
  function refreshDisabled() {
    var faults = !!(frame && frame.fleet.controls);
    document.querySelectorAll('.control').forEach(function (c) {
      c.disabled = !token || (c.classList.contains('fault') && !faults);
      c.title = !token ? 'unlock the controls with the admin token' : (c.classList.contains('fault') && !faults ? 'fault controls need the hosts in this process (dispatchlab up)' : c.dataset.help || '');
    });
  }
  // A control the user is editing keeps what they typed: focused, or changed (data-edited) and not
  // yet sent. Every other one follows the state in force on each frame, so that pressing it after a
  // change made elsewhere (the API, another tab) does not send the old value back and undo that change.
  function edited(c) { c.dataset.edited = '1'; }
  function sent(c) { delete c.dataset.edited; }
  function editing(c) { return c === document.activeElement || c.dataset.edited === '1'; }
  function follow(c, value) { if (!editing(c) && c.value !== value) c.value = value; }
  function track(c) {
    c.addEventListener('input', function () { edited(c); });
    c.addEventListener('change', function () { edited(c); });
    return c;
  }
  // onDone runs once the change is accepted.
  function act(method, path, body, onDone) {
    var headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    say(method + ' ' + path + ' …');
    fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (json) {
          if (res.ok) { say(method + ' ' + path + ': done'); if (onDone) onDone(); return; }
          if (res.status === 401) { sessionStorage.removeItem(TOKEN_KEY); token = null; setUnlocked(false); }
          say(method + ' ' + path + ' refused (' + res.status + '): ' + (json.error || res.statusText), true);
        });
      })
      .catch(function (err) { say(method + ' ' + path + ' failed: ' + err, true); });
  }
  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var candidate = $('token').value.trim();
    if (!candidate) return;
    fetch('auth', { headers: { authorization: 'Bearer ' + candidate }, credentials: 'omit' }).then(function (res) {
      if (!res.ok) { say('that token was refused (' + res.status + ')', true); return; }
      token = candidate;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token').value = '';
      say('controls unlocked for this tab');
      setUnlocked(true);
    });
  });
  $('lock').addEventListener('click', function () {
    sessionStorage.removeItem(TOKEN_KEY); token = null; setUnlocked(false); say('controls locked');
  });
  track($('policy-name')); track($('policy-options'));
  // Another policy's options are not those in force (each policy refuses options it does not know):
  // picking one starts from its defaults, unless the user has typed options of their own.
  $('policy-name').addEventListener('change', function () {
    var inForce = frame && frame.policy.name === $('policy-name').value;
    if (!editing($('policy-options'))) $('policy-options').value = inForce ? JSON.stringify(frame.policy.options) : '{}';
  });
  $('policy-apply').addEventListener('click', function () {
    var options;
    try { options = JSON.parse($('policy-options').value || '{}'); } catch (e) { say('policy options are not JSON: ' + e.message, true); return; }
    var picked = $('policy-name').selectedOptions[0];
    var spec = picked && picked.dataset.file ? { file: picked.value, options: options } : { name: $('policy-name').value, options: options };
    act('PUT', 'policy', spec, function () { sent($('policy-name')); sent($('policy-options')); });
  });

  function button(label, cls, onClick) {
    var b = el('button', 'control ' + (cls || ''), label);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  // Past this many VMs each host's VM cards start folded under a one-line count by status: a data
  // centre's hundreds of cards would make the page tens of thousands of pixels tall.
  var FOLD_VMS = 40;

  // The fleet: built when the set of hosts and VMs changes, updated in place every frame.
  function buildFleet(fleet) {
    var root = $('fleet');
    root.replaceChildren();
    var fold = fleet.hosts.reduce(function (n, h) { return n + h.vms.length; }, 0) > FOLD_VMS;
    fleet.hosts.forEach(function (h) {
      var box = el('div', 'host'); box.dataset.host = h.name;
      var head = el('div', 'host-head');
      head.append(el('strong', '', h.name),
        el('span', 'meta', (h.hypervisor === 'type1' ? 'Type 1' : 'Type 2') + ' · ' + h.cores + ' cores · ' + (h.memoryMb / 1024).toFixed(0) + ' GB'),
        el('span', 'hostload'), el('span', 'owner'));
      box.append(head);
      var cores = el('div', 'cores'); cores.title = 'physical cores: filled by what the VMs (and the host OS) got';
      for (var i = 0; i < h.cores; i++) { var c = el('div', 'core'); c.append(el('i')); cores.append(c); }
      box.append(cores);
      if (h.hypervisor === 'type2') {
        var hc = el('div', 'host-controls');
        // Starts at, and follows, the host load set (the scenario's or the last PUT), like the weights.
        var input = track(el('input', 'control fault')); input.type = 'number'; input.min = '0'; input.step = '0.5';
        input.value = h.hostLoad === undefined ? '' : String(h.hostLoad);
        input.setAttribute('aria-label', 'host load of ' + h.name);
        hc.append(el('span', '', 'host OS load'), input,
          button('Set host load', 'fault', function () {
            // Number('') is 0: an emptied box must not set the load to nothing.
            if (input.value.trim() === '' || !Number.isFinite(Number(input.value))) { say('host load: give a number of cores', true); return; }
            act('PUT', 'hosts/' + encodeURIComponent(h.name) + '/load', { cores: Number(input.value) }, function () { sent(input); });
          }));
        box.append(hc);
      }
      var vms = el('div', 'vms');
      h.vms.forEach(function (vm) {
        var card = el('div', 'vm' + (vm.serves ? '' : ' neighbour')); card.dataset.vm = vm.name;
        var top = el('div', 'vm-head');
        top.append(el('strong', '', vm.name), el('span', 'status'));
        card.append(top,
          el('div', 'tech', vm.virtualization + ' · ' + (vm.mmu === 'shadow' ? 'shadow page tables' : 'nested paging') + (vm.harvested ? ' · harvested' : '')),
          el('div', 'size', (vm.serves ? 'replica' : 'neighbour') + ' · ' + vm.vcpus + ' vCPU · ' + (vm.memoryMb / 1024).toFixed(1) + ' GB'));
        var bar = el('div', 'bar'); bar.append(el('div', 'cpu'), el('div', 'steal')); card.append(bar);
        var nums = el('div', 'nums'); nums.append(el('span', 'cpu-text'), el('span', 'steal-text'), el('span', 'inflight-text')); card.append(nums);
        var ctl = el('div', 'vm-controls');
        var target = 'vms/' + encodeURIComponent(vm.name) + '/';
        ctl.append(button('Crash', 'fault crash', function () { act('POST', target + 'crash'); }),
          button('Restore', 'fault restore', function () { act('POST', target + 'restore'); }),
          button('Owner: suspend', 'fault owner-suspend', function () { act('POST', target + 'owner', { mode: 'suspend', forMs: 10000 }); }),
          button('Owner: migrate', 'fault owner-migrate', function () { act('POST', target + 'owner', { mode: 'migrate' }); }));
        ctl.querySelector('.owner-suspend').dataset.help = 'the owner comes back for 10 s: the VM is suspended';
        ctl.querySelector('.owner-migrate').dataset.help = 'the owner comes back: the VM migrates (down for its migration time)';
        card.append(ctl);
        vms.append(card);
      });
      if (fold) {
        var folded = el('details', 'host-vms');
        folded.append(el('summary', 'vm-summary'), vms);
        box.append(folded);
      } else box.append(vms);
      root.append(box);
    });
  }
  function updateFleet(f) {
    var key = JSON.stringify(f.fleet.hosts.map(function (h) { return [h.name, h.vms.map(function (v) { return v.name; })]; }));
    if (key !== fleetKey) { fleetKey = key; buildFleet(f.fleet); refreshDisabled(); }
    var backends = {};
    f.backends.forEach(function (b) { backends[b.id] = b; });
    f.fleet.hosts.forEach(function (h) {
      var box = document.querySelector('.host[data-host="' + CSS.escape(h.name) + '"]');
      box.classList.toggle('unreachable', !h.reachable);
      box.querySelector('.hostload').textContent = !h.reachable ? 'unreachable' : h.hypervisor === 'type2' ? 'host OS load ' + fmt(h.hostLoad, 1) + ' cores' : '';
      var loadInput = box.querySelector('.host-controls input');
      if (loadInput && h.hostLoad !== undefined) follow(loadInput, String(h.hostLoad));
      box.querySelector('.owner').textContent = h.ownerActive ? 'owner at the workstation' : '';
      var used = h.hypervisor === 'type2' ? Math.min(h.hostLoad || 0, h.cores) : 0;
      h.vms.forEach(function (vm) { used += vm.cpuCores || 0; });
      box.querySelectorAll('.core i').forEach(function (fill, i) { fill.style.width = (Math.max(0, Math.min(1, used - i)) * 100) + '%'; });
      var summary = box.querySelector('.vm-summary');
      if (summary) {
        var byStatus = {};
        h.vms.forEach(function (vm) { var st = vm.status || 'unknown'; byStatus[st] = (byStatus[st] || 0) + 1; });
        summary.textContent = h.vms.length + ' VMs: ' + Object.keys(byStatus).map(function (st) { return byStatus[st] + ' ' + st; }).join(', ');
      }
      h.vms.forEach(function (vm) {
        var card = box.querySelector('.vm[data-vm="' + CSS.escape(vm.name) + '"]');
        var status = vm.status || 'unknown';
        card.dataset.status = status;
        var s = card.querySelector('.status'); s.textContent = status; s.className = 'status ' + status;
        var cpu = vm.cpuCores || 0, steal = vm.stealCores || 0;
        card.querySelector('.bar .cpu').style.width = Math.min(100, (cpu / vm.vcpus) * 100) + '%';
        card.querySelector('.bar .steal').style.width = Math.min(100, (steal / vm.vcpus) * 100) + '%';
        card.querySelector('.cpu-text').textContent = 'CPU ' + fmt(cpu, 2);
        card.querySelector('.steal-text').textContent = 'steal ' + fmt(steal, 2);
        var b = backends[vm.name];
        card.querySelector('.inflight-text').textContent = b ? 'in flight ' + b.inFlight : 'in VM ' + (vm.running === undefined ? '-' : vm.running);
        card.title = vm.name + ': CPU and steal in cores (of ' + vm.vcpus + ' vCPUs), averaged over the last second';
      });
    });
  }

  // Past FOLD_VMS backends their table starts folded too, under its count; back open if the set shrinks.
  function foldBackends(table, count) {
    var wrap = table.parentElement.classList.contains('backends-fold') ? table.parentElement : null;
    if (count > FOLD_VMS) {
      if (!wrap) {
        wrap = el('details', 'backends-fold');
        wrap.append(el('summary'));
        table.replaceWith(wrap);
        wrap.append(table);
      }
      wrap.querySelector('summary').textContent = count + ' backends';
    } else if (wrap) wrap.replaceWith(table);
  }

  function updateBackends(f) {
    var tbody = $('backends');
    var key = f.backends.map(function (b) { return b.id; }).join(',');
    if (key !== backendKey) {
      backendKey = key;
      // The weights being edited survive the rebuild (a backend added or removed elsewhere).
      var typed = {};
      var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.weightOf : undefined;
      tbody.querySelectorAll('input[data-weight-of]').forEach(function (w) { if (editing(w)) typed[w.dataset.weightOf] = w.value; });
      tbody.replaceChildren();
      f.backends.forEach(function (b) {
        var tr = el('tr'); tr.dataset.backend = b.id;
        tr.append(el('td', '', b.id));
        tr.append(el('td', 'state'), el('td', 'inflight'), el('td', 'weight'), el('td', 'rps'), el('td', 'p99'), el('td', 'share-cell'));
        var ctl = el('td', 'controls');
        var w = track(el('input', 'control')); w.type = 'number'; w.min = '0.1'; w.step = '0.5'; w.value = String(b.weight); w.setAttribute('aria-label', 'weight of ' + b.id);
        w.dataset.weightOf = b.id;
        if (Object.hasOwn(typed, b.id)) { w.value = typed[b.id]; edited(w); }
        ctl.append(w, button('Set weight', '', function () { act('PUT', 'backends/' + encodeURIComponent(b.id) + '/weight', { weight: Number(w.value) }, function () { sent(w); }); }),
          button('Drain', 'drain', function () { act('POST', 'backends/' + encodeURIComponent(b.id) + '/drain'); }),
          button('Undrain', 'undrain', function () { act('POST', 'backends/' + encodeURIComponent(b.id) + '/undrain'); }));
        tr.append(ctl);
        tbody.append(tr);
        if (focused === b.id) w.focus();
      });
      foldBackends(tbody.closest('table'), f.backends.length);
      refreshDisabled();
    }
    var period = f.live.periods[f.live.periods.length - 1];
    var total = 0;
    Object.keys(period.requests).forEach(function (k) { total += period.requests[k]; });
    f.backends.forEach(function (b) {
      var tr = tbody.querySelector('tr[data-backend="' + CSS.escape(b.id) + '"]');
      var st = tr.querySelector('.state'); st.textContent = b.state; st.className = 'state ' + b.state;
      tr.querySelector('.inflight').textContent = b.inFlight;
      tr.querySelector('.weight').textContent = b.weight;
      follow(tr.querySelector('input[data-weight-of]'), String(b.weight));
      var p = last(f.live.series[b.id]);
      tr.querySelector('.rps').textContent = p ? p.rps : 0;
      tr.querySelector('.p99').textContent = p ? ms(p.p99Ms) : '-';
      var share = total > 0 ? (period.requests[b.id] || 0) / total : 0;
      var cell = tr.querySelector('.share-cell'); cell.replaceChildren();
      var bar = el('span', 'share'); bar.style.width = (share * 6) + 'em'; bar.style.background = colorOf[b.id];
      cell.append(bar, (share * 100).toFixed(1) + ' %');
    });
  }

  function ago(msAgo) { return msAgo < 1000 ? 'now' : Math.round(msAgo / 1000) + ' s ago'; }
  function updatePolicy(f) {
    $('policy').textContent = f.policy.label;
    // A policy loaded from a file is named by its path, which no built-in option shows: it gets an
    // option of its own while in force, and switching to it sends the file again (reloaded).
    var file = f.policies.indexOf(f.policy.name) < 0 ? f.policy.name : '';
    var sel = $('policy-name');
    var key = f.policies.join(',') + '\n' + file;
    if (key !== policyKey) {
      policyKey = key;
      var picked = sel.value;
      sel.replaceChildren();
      f.policies.forEach(function (name) { var o = el('option', '', name); o.value = name; sel.append(o); });
      if (file) { var o = el('option', '', 'file: ' + file); o.value = file; o.dataset.file = '1'; o.title = file; sel.append(o); }
      // The pick stays if it still exists; otherwise there is nothing of the user's to keep.
      if (Array.prototype.some.call(sel.options, function (o) { return o.value === picked; })) sel.value = picked;
      else { sent(sel); sel.value = f.policy.name; }
    }
    // The select and the options box are one choice: while either is being edited, both stay.
    if (!editing(sel) && !editing($('policy-options'))) {
      follow(sel, f.policy.name);
      follow($('policy-options'), JSON.stringify(f.policy.options));
    }
    var root = $('periods'); root.replaceChildren();
    f.live.periods.slice().reverse().forEach(function (p, i) {
      var box = el('div', 'period' + (i === 0 ? ' current' : ''));
      var head = el('div', 'period-head');
      var total = 0;
      Object.keys(p.requests).forEach(function (k) { total += p.requests[k]; });
      head.append(el('strong', '', p.policy), el('span', '', 'from ' + ago(f.live.nowMs - p.startMs) + (p.endMs === undefined ? ' · in force' : ' to ' + ago(f.live.nowMs - p.endMs)) + ' · ' + total + ' requests'));
      box.append(head);
      Object.keys(p.requests).sort().forEach(function (id) {
        var share = total > 0 ? p.requests[id] / total : 0;
        var row = el('div', 'row');
        var cell = el('span'); var bar = el('span', 'share'); bar.style.width = (share * 100) + '%'; bar.style.background = colorOf[id] || '#6e7781'; cell.append(bar);
        row.append(el('span', '', id), cell, el('span', '', (share * 100).toFixed(1) + ' %'));
        box.append(row);
      });
      root.append(box);
    });
  }

  // Charts: plain SVG, one line per backend plus the overall line (black), policy changes dashed.
  var NS = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function drawChart(svg, field, f) {
    var W = 480, H = 150, L = 40, R = 8, T = 8, B = 20;
    var now = f.live.nowMs, from = now - WINDOW_MS;
    var ids = Object.keys(f.live.series);
    var max = 0;
    ids.forEach(function (id) { f.live.series[id].forEach(function (p) { if (p.tMs >= from && p[field] > max) max = p[field]; }); });
    max = niceMax(max);
    var x = function (t) { return L + ((t - from) / WINDOW_MS) * (W - L - R); };
    var y = function (v) { return T + (1 - v / max) * (H - T - B); };
    var kids = [];
    for (var g = 0; g <= 4; g++) {
      var v = (max * g) / 4;
      kids.push(svgEl('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
      kids.push(svgEl('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, String(Number(v.toPrecision(3)))));
    }
    [['-60 s', from], ['-30 s', from + WINDOW_MS / 2], ['now', now]].forEach(function (t) {
      kids.push(svgEl('text', { x: x(t[1]), y: H - 5, 'text-anchor': t[0] === 'now' ? 'end' : 'middle' }, t[0]));
    });
    f.live.markers.forEach(function (m, i) {
      if (m.tMs < from) return;
      kids.push(svgEl('line', { x1: x(m.tMs), x2: x(m.tMs), y1: T, y2: H - B, class: 'marker' }));
      var nearEnd = x(m.tMs) > W - 90;
      // Alternate rows, so the labels of changes close together do not overlap.
      kids.push(svgEl('text', { x: x(m.tMs) + (nearEnd ? -3 : 3), y: T + 8 + (i % 2) * 11, class: 'marker-label', 'text-anchor': nearEnd ? 'end' : 'start' }, m.policy));
    });
    ids.sort(function (a, b) { return a === '*' ? 1 : b === '*' ? -1 : a < b ? -1 : 1; }).forEach(function (id) {
      // Each point is a whole second; draw it at the second's end, when it was complete.
      var pts = f.live.series[id].filter(function (p) { return p.tMs + 1000 >= from; })
        .map(function (p) { return x(Math.min(now, p.tMs + 1000)).toFixed(1) + ',' + y(p[field]).toFixed(1); });
      if (pts.length === 0) return;
      kids.push(svgEl('polyline', { points: pts.join(' '), fill: 'none', stroke: id === '*' ? '#1f2328' : colorOf[id] || '#6e7781', 'stroke-width': id === '*' ? 2.2 : 1.4, 'data-series': id }));
    });
    svg.replaceChildren.apply(svg, kids);
  }
  function updateLegend(f) {
    var root = $('legend'); root.replaceChildren();
    var entries = f.backends.map(function (b) { return [b.id, colorOf[b.id]]; }).concat([['overall', '#1f2328']]);
    entries.forEach(function (e) { var s = el('span'); var i = el('i'); i.style.background = e[1]; s.append(i, e[0]); root.append(s); });
  }

  function render(f) {
    frame = f;
    f.backends.forEach(function (b) { colorOf[b.id] = colorOf[b.id] || COLORS[Object.keys(colorOf).length % COLORS.length]; });
    var total = last(f.live.series['*']);
    $('total-rps').textContent = total ? total.rps : 0;
    $('total-p50').textContent = total ? ms(total.p50Ms) : '-';
    $('total-p99').textContent = total ? ms(total.p99Ms) : '-';
    $('total-errors').textContent = total ? total.errorsPerS : 0;
    $('queue').textContent = f.queueLength;
    updatePolicy(f);
    updateFleet(f);
    updateBackends(f);
    updateLegend(f);
    drawChart($('chart-rps'), 'rps', f);
    drawChart($('chart-errors'), 'errorsPerS', f);
    drawChart($('chart-p50'), 'p50Ms', f);
    drawChart($('chart-p99'), 'p99Ms', f);
    refreshDisabled();
    document.body.dataset.frames = String(Number(document.body.dataset.frames || 0) + 1);
  }

  setUnlocked(!!token);
  var events = new EventSource('events');
  events.onopen = function () { $('conn').textContent = 'live'; $('conn').className = 'conn live'; };
  events.onerror = function () { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn down'; };
  events.onmessage = function (ev) { render(JSON.parse(ev.data)); };
})();
`;
