/* Material for MkDocs' inline head script, as a static file for the CSP: the scope of stored
   preferences (palette, tabs), read from the data-md-scope attribute of this script tag. */
var __md_scope = new URL(document.currentScript.getAttribute("data-md-scope"), location);
var __md_hash = function (s) {
  return Array.from(s).reduce(function (h, c) { return (h << 5) - h + c.charCodeAt(0); }, 0);
};
var __md_get = function (key, storage, scope) {
  storage = storage || localStorage;
  scope = scope || __md_scope;
  return JSON.parse(storage.getItem(scope.pathname + "." + key));
};
var __md_set = function (key, value, storage, scope) {
  storage = storage || localStorage;
  scope = scope || __md_scope;
  try { storage.setItem(scope.pathname + "." + key, JSON.stringify(value)); } catch (e) { /* full or disabled */ }
};
