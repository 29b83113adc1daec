// The words our own JavaScript shows are not written here: the page renders them, marked
// for translation like the rest of its text, into <script type="application/json"
// id="js-strings"> (templates/_js_strings.html). A data block is never run, so the CSP
// (script-src 'self') allows it. closeloopWords("key", {n: 3}) gives the text with
// {name} placeholders filled in.
(function () {
  "use strict";
  var block = document.getElementById("js-strings");
  var words = block ? JSON.parse(block.textContent) : {};
  window.closeloopWords = function (key, values) {
    var text = words[key];
    if (text === undefined) {
      if (window.console) window.console.error("no words for " + key);
      return "";
    }
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && name in values ? String(values[name]) : whole;
    });
  };
})();
