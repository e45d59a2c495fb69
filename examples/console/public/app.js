// The console page: fetch /api/indexes with the typed key and render a table (textContent only).
'use strict';

const form = document.getElementById('key-form');
const keyInput = document.getElementById('api-key');
const statusLine = document.getElementById('status');
const table = document.getElementById('indexes');

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text);
  return td;
}

async function load() {
  statusLine.className = 'muted';
  statusLine.textContent = 'Loading…';
  const headers = keyInput.value ? { 'x-api-key': keyInput.value } : {};
  try {
    const response = await fetch('/api/indexes', { headers });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
    const rows = body.results || [];
    const tbody = table.querySelector('tbody');
    tbody.replaceChildren(...rows.map((ix) => {
      const tr = document.createElement('tr');
      tr.append(cell(ix.indexName), cell(ix.indexStatus), cell(ix.marqoEndpoint), cell(ix.Created));
      return tr;
    }));
    table.hidden = rows.length === 0;
    statusLine.textContent = rows.length ? `${rows.length} index(es)` : 'No indexes yet.';
  } catch (e) {
    table.hidden = true;
    statusLine.className = 'error';
    statusLine.textContent = `Could not list indexes: ${e.message}`;
  }
}

form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
fetch('/api/config').then((r) => r.json()).then((config) => { if (config.hasDefaultKey) load(); }).catch(() => {});
