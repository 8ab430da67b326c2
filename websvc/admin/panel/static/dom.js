// Small DOM helpers. Text always goes in as textContent, never as markup: the
// page runs under Trusted Types with no policy, so an HTML sink would throw.

export const $ = (id) => document.getElementById(id);

let counter = 0;
/** A new element id, unique in the page. */
export function uid(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * h("div", {class: "x", onclick: f, hidden: true}, child, "text", [more])
 * Attributes: "class", "for", "aria-*", "data-*", and properties set directly
 * (checked, value, disabled, hidden); on* names add event listeners.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "checked" || name === "value" || name === "disabled" || name === "hidden") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace every child of *element* with *children*. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}
