// Renders /api/openapi.json as a list of operations with their parameters, bodies and
// answers. Own code: the docs page needs no CDN and no third-party bundle.
(function () {
  "use strict";
  const words = window.closeloopWords;
  const root = document.getElementById("api-docs");
  if (!root) return;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    (children || []).forEach((c) => node.append(c));
    return node;
  }

  function resolve(spec, schema) {
    if (schema && schema.$ref) {
      return spec.components.schemas[schema.$ref.split("/").pop()] || {};
    }
    return schema || {};
  }

  function typeOf(spec, schema) {
    if (!schema) return "";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (schema.anyOf) return schema.anyOf.map((s) => typeOf(spec, s)).join(" | ");
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
    if (schema.type === "array") return typeOf(spec, schema.items) + "[]";
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    let t = schema.type || "";
    if (schema.format) t += " (" + schema.format + ")";
    if (schema.maxLength) t += ", " + words("max_length", { n: schema.maxLength });
    return t;
  }

  function fields(spec, schema) {
    const body = resolve(spec, schema);
    const required = new Set(body.required || []);
    const rows = Object.entries(body.properties || {}).map(([name, prop]) =>
      el("tr", {}, [
        el("td", {}, [el("code", {}, [name])]),
        el("td", {}, [typeOf(spec, prop)]),
        el("td", {}, [required.has(name) ? words("required") : ""]),
      ])
    );
    return el("table", { class: "table table-sm" }, [el("tbody", {}, rows)]);
  }

  function render(spec) {
    root.textContent = "";
    Object.entries(spec.paths).forEach(([path, ops]) => {
      Object.entries(ops).forEach(([method, op]) => {
        const card = el("section", { class: "card mb-3", id: op.operationId }, []);
        const body = el("div", { class: "card-body" }, [
          el("h2", { class: "h6" }, [el("code", {}, [method.toUpperCase() + " " + path]), " — " + op.summary]),
        ]);
        if (op.description) body.append(el("p", {}, [op.description]));
        const params = (op.parameters || []).map((p) =>
          el("li", {}, [el("code", {}, [p.name]), " (" + p.in + ") " + typeOf(spec, p.schema)])
        );
        if (params.length) body.append(el("p", { class: "mb-1 fw-semibold" }, [words("parameters")]), el("ul", {}, params));
        const request = op.requestBody && op.requestBody.content["application/json"];
        if (request) {
          body.append(el("p", { class: "mb-1 fw-semibold" }, [words("body", { type: typeOf(spec, request.schema) })]));
          body.append(fields(spec, request.schema));
        }
        const answers = Object.entries(op.responses).map(([code, r]) => code + " " + r.description);
        body.append(el("p", { class: "small text-body-secondary" }, [words("answers", { answers: answers.join(", ") })]));
        card.append(body);
        root.append(card);
      });
    });
  }

  fetch(root.dataset.spec)
    .then((r) => r.json())
    .then(render)
    .catch(() => { root.textContent = words("not_loaded"); });
})();
