// Sphinx's search shows a summary of each result, cut from the page's text: without this, the TeX source of the
// page's math (`\(\mathcal{L}(p) = ...\)`, which MathJax typesets on the page itself) shows up raw in it.
document.addEventListener('DOMContentLoaded', () => {
  if (typeof Search === 'undefined' || !Search.htmlToText) return;  // searchtools.js is loaded on search.html only
  const toText = Search.htmlToText;
  const math = /<(span|div) class="math[^"]*"[^>]*>[\s\S]*?<\/\1>/g;
  Search.htmlToText = (html, anchor) => toText(html.replace(math, ' '), anchor);
});
