// A "copy" button on every code block of the docs site (served with the site; no CDN, no dependency).
document.addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('div.highlight').forEach(block => {
    const pre = block.querySelector('pre');
    if (!pre || block.closest('.cell_output')) return;  // code, not outputs
    const button = document.createElement('button');
    button.type = 'button'; button.className = 'copybtn'; button.textContent = 'copy'; button.title = 'Copy the code';
    const said = text => { button.textContent = text; setTimeout(() => { button.textContent = 'copy'; }, 1500); };
    button.addEventListener('click', () => {
      const text = pre.innerText.replace(/\n$/, '');
      const fallback = () => {  // pages opened from a file or over http have no navigator.clipboard
        const area = document.createElement('textarea');
        area.value = text; document.body.appendChild(area); area.select();
        const ok = document.execCommand('copy'); area.remove(); said(ok ? 'copied' : 'press Ctrl+C');
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(() => said('copied'), fallback);
      else fallback();
    });
    block.classList.add('has-copybtn');
    block.appendChild(button);
  });
});
