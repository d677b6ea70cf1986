// The range pickers of the market pages: typing a Start or End date switches
// Range to "custom" (the server uses the dates only then), and choosing a
// preset clears the dates, so the submitted form always means what it shows.

for (const form of document.querySelectorAll("[data-market-form]")) {
  const range = form.querySelector("[data-range-select]");
  if (!range) continue;
  const dates = form.querySelectorAll("[data-range-date]");
  for (const input of dates) {
    input.addEventListener("input", () => {
      range.value = "custom";
    });
  }
  range.addEventListener("change", () => {
    if (range.value === "custom") return;
    for (const input of dates) input.value = "";
  });
}
