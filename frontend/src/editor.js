// The dialplan editor: turns every <textarea data-code-editor> into a CodeMirror 6 editor with
// Python highlighting (Starlark is Python syntax) and line numbers. The textarea stays the form
// field: the editor copies its text back on every change, so the form posts as it would
// without JavaScript, and without JavaScript the page is a plain textarea (progressive
// enhancement). A parse error the server found on save arrives as data-error-line,
// data-error-column and data-error-message on the textarea and is shown as a lint diagnostic
// plus a marked line until the text changes.
import { basicSetup } from "codemirror";
import { python } from "@codemirror/lang-python";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import { StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView } from "@codemirror/view";

const markErrorLine = StateEffect.define();

const errorLineField = StateField.define({
  create: () => Decoration.none,
  update(decorations, transaction) {
    if (transaction.docChanged) return Decoration.none;
    for (const effect of transaction.effects) {
      if (effect.is(markErrorLine)) {
        const line = transaction.state.doc.line(effect.value);
        const mark = Decoration.line({
          attributes: { class: "cm-errorLine", "data-error-line": String(effect.value) },
        });
        return Decoration.set([mark.range(line.from)]);
      }
    }
    return decorations;
  },
  provide: (field) => EditorView.decorations.from(field),
});

function serverError(textarea, state) {
  const lineNumber = Number.parseInt(textarea.dataset.errorLine || "", 10);
  if (!Number.isInteger(lineNumber) || lineNumber < 1) return null;
  const line = state.doc.line(Math.min(lineNumber, state.doc.lines));
  const column = Math.max(1, Number.parseInt(textarea.dataset.errorColumn || "1", 10) || 1);
  const from = Math.min(line.from + column - 1, line.to);
  return {
    lineNumber: line.number,
    diagnostic: {
      from,
      to: Math.max(from, line.to),
      severity: "error",
      source: "Starlark",
      message: textarea.dataset.errorMessage || "Syntax error",
    },
  };
}

function labelOf(textarea) {
  const label = textarea.id && document.querySelector(`label[for="${textarea.id}"]`);
  return label ? label.textContent.trim() : "Dialplan script";
}

function enhance(textarea) {
  const view = new EditorView({
    doc: textarea.value,
    extensions: [
      basicSetup,
      python(),
      lintGutter(),
      errorLineField,
      EditorView.contentAttributes.of({
        "aria-label": labelOf(textarea),
        ...(textarea.getAttribute("aria-describedby")
          ? { "aria-describedby": textarea.getAttribute("aria-describedby") }
          : {}),
      }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) textarea.value = update.state.doc.toString();
      }),
    ],
  });
  textarea.after(view.dom);
  textarea.hidden = true;
  textarea.dataset.enhanced = "true";
  view.dom.classList.add("code-editor");

  const label = textarea.id && document.querySelector(`label[for="${textarea.id}"]`);
  if (label) label.addEventListener("click", () => view.focus());

  const error = serverError(textarea, view.state);
  if (error) {
    view.dispatch(setDiagnostics(view.state, [error.diagnostic]));
    view.dispatch({
      effects: [markErrorLine.of(error.lineNumber), EditorView.scrollIntoView(error.diagnostic.from)],
      selection: { anchor: error.diagnostic.from },
    });
  }
  return view;
}

function enhanceAll() {
  for (const textarea of document.querySelectorAll("textarea[data-code-editor]")) {
    if (!textarea.dataset.enhanced) enhance(textarea);
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", enhanceAll);
} else {
  enhanceAll();
}
