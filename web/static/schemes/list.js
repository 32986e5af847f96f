// Schemes list: ask before deleting; keep one "More" pop-up open at a time; Escape closes it.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  });
}

const pops = Array.from(document.querySelectorAll("details.more"));
for (const d of pops) {
  d.addEventListener("toggle", () => {
    if (!d.open) return;
    for (const other of pops) if (other !== d) other.open = false;
    const first = d.querySelector(".more-pop input:not([type=hidden])");
    if (first) first.focus();
  });
  d.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && d.open) {
      d.open = false;
      d.querySelector("summary").focus();
    }
  });
}
document.addEventListener("click", (e) => {
  for (const d of pops) if (d.open && !d.contains(e.target)) d.open = false;
});

const error = document.getElementById("scheme-error");
if (error) error.scrollIntoView({ block: "center" });
