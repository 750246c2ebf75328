// Draws the dashboard's charts from the figures the server put in <script type="application/json">,
// again whenever HTMX swaps a partial in. The same figures are in tables under each chart.
/* global ApexCharts, htmx */

const swiss = new Intl.NumberFormat("de-CH", { maximumFractionDigits: 0 });

function amount(value) {
  return value === null ? null : Number(value);
}

function money(value) {
  return value === null || value === undefined ? "" : `CHF ${swiss.format(value)}`;
}

function baseOptions(type, height) {
  return {
    chart: { type, height, fontFamily: "inherit", toolbar: { show: false }, animations: { enabled: false } },
    dataLabels: { enabled: false },
    tooltip: { y: { formatter: money } },
    yaxis: { labels: { formatter: (value) => swiss.format(value) } },
    legend: { position: "bottom" },
  };
}

const builders = {
  revenue(data) {
    return {
      ...baseOptions("line", 280),
      series: data.series.map((s) => ({ ...s, data: s.data.map(amount) })),
      xaxis: { categories: data.categories, labels: { rotate: -45, hideOverlappingLabels: true } },
      stroke: { width: [0, 3], curve: "straight", dashArray: [0, 6] },
      colors: ["#206bc4", "#d63939"],
    };
  },
  donut(data) {
    return {
      ...baseOptions("donut", 260),
      series: data.series.map(amount),
      labels: data.labels,
      colors: data.colors,
      yaxis: undefined,
    };
  },
  stacked(data) {
    return {
      ...baseOptions("bar", 260),
      chart: { ...baseOptions("bar", 260).chart, stacked: true },
      series: data.series.map((s) => ({ ...s, data: s.data.map(amount) })),
      xaxis: { categories: data.categories },
      colors: data.colors,
    };
  },
  cash(data) {
    return {
      ...baseOptions("line", 260),
      series: data.series.map((s) => ({ ...s, data: s.data.map(amount) })),
      xaxis: { categories: data.categories, labels: { rotate: -45, hideOverlappingLabels: true } },
      stroke: { width: [3, 3], dashArray: [0, 6] },
      colors: ["#2fb344", "#f76707"],
    };
  },
  ageing(data) {
    return {
      ...baseOptions("bar", 220),
      series: data.series.map((s) => ({ ...s, data: s.data.map(amount) })),
      xaxis: { categories: data.categories },
      colors: ["#2fb344", "#f59f00", "#f76707", "#d63939", "#a01d1d"],
      plotOptions: { bar: { distributed: true } },
      legend: { show: false },
      chart: {
        ...baseOptions("bar", 220).chart,
        events: { dataPointSelection: (event, context, config) => window.location.assign(data.links[config.dataPointIndex]) },
      },
    };
  },
};

function drawCharts(root) {
  if (typeof ApexCharts === "undefined") {
    return;
  }
  root.querySelectorAll("[data-chart]").forEach((element) => {
    const source = document.getElementById(element.dataset.chart);
    if (!source || element.dataset.drawn) {
      return;
    }
    const data = JSON.parse(source.textContent);
    const chart = new ApexCharts(element, builders[data.kind](data));
    element.dataset.drawn = "1";
    element.hvChart = chart;
    chart.render();
  });
}

document.addEventListener("DOMContentLoaded", () => drawCharts(document));
document.addEventListener("htmx:beforeSwap", (event) => {
  event.detail.target.querySelectorAll("[data-chart]").forEach((element) => element.hvChart?.destroy());
});
document.addEventListener("htmx:afterSwap", () => drawCharts(document));
