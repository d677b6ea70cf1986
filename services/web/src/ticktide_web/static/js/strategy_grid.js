// /strategies/<id>, "Run a grid" with JavaScript: the number of parameter sets
// the grid stands for, counted as it is typed, with the backtest form's grid
// syntax and checks (backtest_grid.js). Without JavaScript the server counts it
// when the page is drawn, and checks every field when the form is posted.

import { GridSyntaxError, combinations, paramSpecs, parseValues } from "./backtest_grid.js";

const form = document.querySelector("[data-strategy-grid]");
const dataBlock = document.getElementById("st-grid-data");

if (form && dataBlock) {
  const specs = paramSpecs(JSON.parse(dataBlock.textContent).parameters);
  const count = form.querySelector("[data-grid-count]");

  function countGrid() {
    const grid = {};
    for (const spec of specs) {
      const field = form.elements.namedItem(`p_${spec.name}`);
      try {
        grid[spec.name] = parseValues(field ? field.value : "", spec);
      } catch (error) {
        if (!(error instanceof GridSyntaxError)) throw error;
        count.textContent = error.message;
        return;
      }
    }
    const n = combinations(grid);
    count.textContent = `${n.toLocaleString("en-US")} parameter ${n === 1 ? "set" : "sets"} per series (before dropping those that break a constraint)`;
  }

  form.addEventListener("input", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.dataset.param) countGrid();
  });
}
