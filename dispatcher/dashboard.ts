/**
 * The dashboard (`GET /` on the admin port): one static page, no build step, that polls the admin
 * API's own JSON (`/policy`, `/backends`) every second and draws a table. Read-only: changes go
 * through the token-protected API, which a page without the token cannot call.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dispatchlab dispatcher</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
  table { border-collapse: collapse; min-width: 40em; }
  th, td { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: right; }
  th:first-child, td:first-child, td.state { text-align: left; }
  .healthy { color: #1a7f37; } .draining { color: #9a6700; } .ejected, .down { color: #cf222e; }
  .bar { display: inline-block; height: .7em; background: #0969da; vertical-align: middle; }
  #status { color: #888; }
</style>
</head>
<body>
<h1>dispatchlab dispatcher</h1>
<p>Policy: <strong id="policy">?</strong> <span id="status"></span></p>
<table>
  <thead><tr><th>backend</th><th>state</th><th>in flight</th><th>weight</th><th>requests</th><th>errors</th><th>ejections</th><th>reported load</th><th>share</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<p><a href="metrics">Prometheus metrics</a> · <a href="backends">backends JSON</a> · <a href="policy">policy JSON</a></p>
<script>
const cell = (text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; };
async function refresh() {
  try {
    const [policy, list] = await Promise.all([fetch('policy').then((r) => r.json()), fetch('backends').then((r) => r.json())]);
    document.getElementById('policy').textContent = policy.label;
    const total = list.backends.reduce((sum, b) => sum + b.requests, 0) || 1;
    const rows = list.backends.map((b) => {
      const tr = document.createElement('tr');
      const share = b.requests / total;
      const bar = document.createElement('td');
      bar.innerHTML = '<span class="bar"></span> ';
      bar.firstChild.style.width = (share * 10) + 'em';
      bar.append((share * 100).toFixed(1) + ' %');
      tr.append(cell(b.id), cell(b.state, 'state ' + b.state), cell(b.inFlight), cell(b.weight), cell(b.requests),
        cell(b.errors), cell(b.ejections), cell(b.reportedLoad === undefined ? '-' : b.reportedLoad.toFixed(2)), bar);
      tr.title = b.url;
      return tr;
    });
    document.getElementById('rows').replaceChildren(...rows);
    document.getElementById('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById('status').textContent = 'admin API unreachable: ' + err;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
