// ipywidgets' html-manager typesets math in widget labels with MathJax 2's API, `MathJax.Hub.Queue(['Typeset', MathJax.Hub, el])`,
// whenever `window.MathJax` exists; this site loads MathJax 3, which has no `Hub`. Whatever object `window.MathJax` becomes
// (a configuration set before MathJax loads, or MathJax 3 itself), give it a `Hub.Queue` that calls MathJax 3's
// `typesetPromise` on that element.
(function () {
  var current = window.MathJax;
  function withHub(o) {
    if (o && typeof o === 'object' && !o.Hub) {
      Object.defineProperty(o, 'Hub', {enumerable: false, configurable: true, value: {Queue: function (job) {
        var el = Array.isArray(job) ? job[2] : undefined, mj = window.MathJax;
        if (mj && mj.typesetPromise) mj.typesetPromise(el ? [el] : undefined).catch(function () {});
      }}});
    }
    return o;
  }
  Object.defineProperty(window, 'MathJax', {configurable: true, enumerable: true,
    get: function () { return current; }, set: function (v) { current = withHub(v); }});
  withHub(current);
})();
