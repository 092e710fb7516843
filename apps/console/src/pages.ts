// The console's two pages, server-rendered: the login form and the dashboard shell the script fills in.
// Every interpolated value goes through esc(); no inline script or style (the CSP forbids them).

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, meta = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="stylesheet" href="/static/console.css">
${meta}
</head>
<body>
${body}
</body>
</html>
`;
}

export function loginPage(opts: { csrf: string; error?: string | undefined; user?: string | undefined }): string {
  return layout(
    'moat console: log in',
    `<main class="login">
<h1>moat</h1>
<form method="post" action="/login" id="login">
<input type="hidden" name="csrf" value="${esc(opts.csrf)}">
<label>User <input name="user" id="user" autocomplete="username" required value="${esc(opts.user ?? '')}"></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
${opts.error ? `<p class="error" role="alert">${esc(opts.error)}</p>` : ''}
<button type="submit">Log in</button>
</form>
</main>`,
  );
}

export function dashboardPage(opts: { user: string; csrf: string; pollMs: number; hostname: string }): string {
  return layout(
    `moat console: ${opts.hostname}`,
    `<header>
<h1>moat <span class="host">${esc(opts.hostname)}</span></h1>
<span id="status" class="status">connecting...</span>
<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="${esc(opts.csrf)}"><span>${esc(opts.user)}</span> <button type="submit">Log out</button></form>
</header>
<main>
<section id="counters">
<h2>Decisions <small id="window"></small></h2>
<div class="cards" id="cards"></div>
<div class="chart"><svg id="chart" viewBox="0 0 600 80" preserveAspectRatio="none" role="img" aria-label="decisions per minute"></svg><small>decisions per minute, last 30 minutes (journal)</small></div>
<div class="cols">
<div><h3>Per restriction</h3><table id="restrictions"><thead><tr><th>deciding restriction</th><th>action</th><th>journal</th><th>since start</th><th></th></tr></thead><tbody></tbody></table></div>
<div><h3>Per zone</h3><table id="zone-counters"><thead><tr><th>zone</th><th>state</th><th>checked</th><th>hits</th><th>errors</th><th>failures since start (metrics)</th><th></th></tr></thead><tbody></tbody></table></div>
</div>
<h3>Nodes</h3>
<table id="node-table"><thead><tr><th>metrics endpoint</th><th>reachable</th><th>stress</th><th>last config reload</th><th>certificate (ACME)</th></tr></thead><tbody></tbody></table>
<p class="sources" id="sources"></p>
</section>
<section id="decisions">
<h2>Recent sessions <small>one row per SMTP session, its final outcome; click for its steps</small></h2>
<form id="search" class="search">
<label>Why? <input id="search-id" placeholder="session or queue id" maxlength="128" autocomplete="off"></label>
<select id="search-kind" aria-label="id kind"><option value="session">session id</option><option value="queueId">queue id</option></select>
<button type="submit">Find</button> <button type="button" id="search-clear">Show recent</button>
<span id="search-note" class="note"></span>
</form>
<table id="decision-table"><thead><tr><th class="time">time</th><th>node</th><th>session</th><th>client</th><th>sender</th><th>recipient</th><th>action</th><th>decided by</th></tr></thead><tbody></tbody></table>
</section>
<div class="pair">
<section id="greylist">
<h2>Stuck in greylisting</h2>
<p id="greylist-note" class="note"></p>
<table id="stuck-table"><thead><tr><th>client</th><th>sender</th><th>recipient</th><th>attempts</th><th>first seen</th><th>retry pattern</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section id="ratelimits">
<h2>Rate limited now</h2>
<p id="ratelimit-note" class="note"></p>
<table id="ratelimit-table"><thead><tr><th>limit</th><th>client or login</th><th>service</th><th>count / limit</th><th>refused</th><th>window ends</th></tr></thead><tbody></tbody></table>
</section>
</div>
<div class="pair">
<section id="queue">
<h2>Queue <button type="button" id="flush" data-action="flush">Flush deferred</button></h2>
<table id="queue-table"><thead><tr><th>queue id</th><th>state</th><th>size</th><th>arrival</th><th>sender</th><th>recipients</th><th>next retry / error</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section id="zones">
<h2>DNS list health</h2>
<table id="zone-table"><thead><tr><th>zone</th><th>state</th><th>profile</th><th class="time">checked</th><th>lookup errors</th><th>reason</th></tr></thead><tbody></tbody></table>
</section>
</div>
<section id="quarantine">
<h2>Quarantine <small>held on every node; never delivered unless released</small></h2>
<p id="quarantine-note" class="note"></p>
<table id="quarantine-table"><thead><tr><th>node</th><th>queue id</th><th class="time">held since</th><th>check</th><th>score</th><th>sender</th><th>subject</th><th></th></tr></thead><tbody></tbody></table>
<div id="quarantine-show" hidden>
<h3>Held message <span id="quarantine-show-id"></span> <button type="button" id="quarantine-show-close">Close</button></h3>
<p id="quarantine-show-hold" class="note"></p>
<pre id="quarantine-headers" class="message-headers"></pre>
<pre id="quarantine-preview" class="message-preview"></pre>
</div>
</section>
<p id="flash" class="flash" role="status"></p>
</main>
<script type="module" src="/static/console.js"></script>
<script type="module" src="/static/quarantine.js"></script>`,
    `<meta name="csrf-token" content="${esc(opts.csrf)}">\n<meta name="poll-ms" content="${opts.pollMs}">`,
  );
}
