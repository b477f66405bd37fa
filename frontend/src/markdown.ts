// Answers and questions are Markdown written by colleagues: rendered with marked, then cleaned
// by DOMPurify (no script, no event handler, no javascript: URL) before lit puts them in the page.
import DOMPurify from "dompurify";
import { marked } from "marked";
import { html, type TemplateResult } from "lit";
import { unsafeHTML } from "lit/directives/unsafe-html.js";

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

export function toSafeHtml(source: string): string {
  const raw = marked.parse(source ?? "", { async: false, gfm: true, breaks: true }) as string;
  return DOMPurify.sanitize(raw, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe"],
    FORBID_ATTR: ["style"],
  });
}

export function markdown(source: string): TemplateResult {
  return html`<div class="md">${unsafeHTML(toSafeHtml(source))}</div>`;
}
