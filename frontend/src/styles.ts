import { css } from "lit";

// Shared by every part of the widget. Hosts can theme it with --relais-* custom properties.
export const styles = css`
  :host {
    --accent: var(--relais-accent, #0b5cad);
    --accent-soft: var(--relais-accent-soft, #e8f0fa);
    --text: var(--relais-text, #1d1d1f);
    --muted: var(--relais-muted, #545861);
    --line: var(--relais-line, #d5d8de);
    --bg: var(--relais-bg, #ffffff);
    --ok: #1a6b34;
    --ok-soft: #e4f3e8;
    --warn: #8a4b00;
    --danger: #a4161a;
    display: block;
    color: var(--text);
    font: 15px/1.45 var(--relais-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
    min-width: 0;
  }
  *, *::before, *::after { box-sizing: border-box; }
  [hidden] { display: none !important; }
  h2 { font-size: 1.15rem; margin: 0 0 .6rem; }
  h3 { font-size: 1rem; margin: 0 0 .3rem; }
  h4 { font-size: .9rem; margin: .6rem 0 .3rem; color: var(--muted); }
  p { margin: .3rem 0; }
  ul.plain { list-style: none; margin: 0; padding: 0; }
  label { display: block; font-weight: 600; margin: .6rem 0 .2rem; }
  label.check { display: flex; gap: .5rem; align-items: flex-start; font-weight: 400; }
  label.check input { margin-top: .25rem; }
  .hint { color: var(--muted); font-size: .85rem; margin: 0 0 .2rem; }
  input[type="text"], input[type="search"], input[type="date"], textarea, select {
    width: 100%; font: inherit; color: inherit; background: var(--bg);
    border: 1px solid var(--line); border-radius: 6px; padding: .45rem .55rem;
  }
  textarea { min-height: 5.5rem; resize: vertical; }
  input:focus-visible, textarea:focus-visible, select:focus-visible, button:focus-visible,
  a:focus-visible, [tabindex]:focus-visible {
    outline: 3px solid var(--accent); outline-offset: 2px;
  }
  button, .button {
    font: inherit; cursor: pointer; border-radius: 6px; padding: .4rem .8rem;
    border: 1px solid var(--accent); background: var(--bg); color: var(--accent);
    text-decoration: none; display: inline-block; line-height: 1.3;
  }
  button.primary { background: var(--accent); color: #fff; }
  button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
  .my-data { margin-top: 1.4rem; border-top: 1px solid var(--line); padding-top: .4rem; }
  button:disabled { opacity: .6; cursor: default; }
  button.link { border: none; padding: 0; background: none; text-align: left; text-decoration: underline; }
  .actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .6rem; align-items: center; }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: .75rem; margin: .6rem 0; background: var(--bg); }
  .meta { color: var(--muted); font-size: .88rem; }
  .relay-note { margin: .3rem 0; padding-left: .6rem; border-left: 3px solid var(--accent-soft); font-style: italic; }
  button.colleague[aria-pressed="true"] { font-weight: 700; text-decoration: none; }
  .chips { display: flex; flex-wrap: wrap; gap: .3rem; margin: .3rem 0; padding: 0; list-style: none; }
  .chip { background: var(--accent-soft); color: var(--accent); border-radius: 999px; padding: .05rem .55rem; font-size: .85rem; border: none; }
  button.chip { text-decoration: none; }
  .chip.match { background: var(--accent); color: #fff; }
  .badge { display: inline-block; border-radius: 4px; padding: 0 .4rem; font-size: .8rem; font-weight: 600; background: var(--accent-soft); color: var(--accent); }
  .badge.ok { background: var(--ok-soft); color: var(--ok); }
  .status { min-height: 1.4em; color: var(--muted); font-size: .9rem; margin: .4rem 0; }
  .error { color: var(--danger); font-weight: 600; margin: .4rem 0; }
  .notice { color: var(--ok); font-weight: 600; margin: .4rem 0; }
  .why { margin: .3rem 0 0; padding: 0; list-style: none; font-size: .88rem; }
  .why li { display: grid; grid-template-columns: 1fr 3.2rem; gap: .1rem .5rem; align-items: center; margin: .2rem 0; }
  .bar { grid-column: 1 / -1; height: 4px; background: var(--accent-soft); border-radius: 2px; }
  .bar > span { display: block; height: 100%; background: var(--accent); border-radius: 2px; }
  .share { text-align: right; color: var(--muted); }
  .grid { display: grid; gap: .6rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 16rem), 1fr)); }
  .grid .card { margin: 0; }
  .row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; }
  .row > div { flex: 1 1 10rem; min-width: 0; }
  .md { overflow-wrap: anywhere; }
  .md pre { overflow-x: auto; background: #f4f5f7; padding: .5rem; border-radius: 6px; }
  .md img { max-width: 100%; }
  .md a { color: var(--accent); }
  .accepted { border-color: var(--ok); box-shadow: inset 4px 0 0 var(--ok); }
  .split { display: grid; gap: 1rem; grid-template-columns: minmax(0, 1fr); }
  @media (min-width: 760px) { .split { grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); } }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
