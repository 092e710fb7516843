// The Bayes learning form under a message's trace: the admin picks the .eml and posts it as spam or ham.
// The file is the admin's own choice; it is sent as base64 to our own origin with the CSRF token, never rendered.
import { post } from './api.js';
import { el, flash } from './dom.js';

/** base64 of a file's bytes (the API takes the message as base64 JSON). */
async function base64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
// the file chosen per trace: the list is redrawn every few seconds, and a file input cannot be refilled
const learnFiles = new Map();

export function learnForm(key) {
  const box = el('p', undefined, 'learn');
  const file = document.createElement('input');
  file.type = 'file';
  file.accept = '.eml,message/rfc822,text/plain';
  file.className = 'learn-file';
  file.setAttribute('aria-label', 'the message (.eml) to learn from');
  const chosenName = el('span', learnFiles.has(key) ? ` ${learnFiles.get(key).name} ` : ' ', 'learn-chosen');
  file.addEventListener('change', () => {
    if (file.files?.[0]) learnFiles.set(key, file.files[0]);
    chosenName.textContent = learnFiles.has(key) ? ` ${learnFiles.get(key).name} ` : ' ';
  });
  box.append(el('span', 'Teach Bayes with this message (.eml): '), file, chosenName);
  for (const as of ['spam', 'ham']) {
    const b = el('button', `Learn as ${as}`, `learn-${as}`);
    b.type = 'button';
    b.addEventListener('click', async (ev) => {
      ev.stopPropagation();
      const chosen = file.files?.[0] || learnFiles.get(key);
      if (!chosen) return flash('Choose the message file (.eml) first', true);
      try {
        const r = await post('/api/learn', { as, message: await base64(chosen) });
        flash(r.outcome === 'learned' ? `Learned ${chosen.name} as ${as}` : `Nothing changed: ${chosen.name} was already learned as ${as}, or Bayes is off`);
      } catch (err) {
        flash(`Learning failed: ${err.message}`, true);
      }
    });
    box.append(b);
  }
  box.addEventListener('click', (ev) => ev.stopPropagation());
  return box;
}
