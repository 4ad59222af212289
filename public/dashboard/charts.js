// Small wrapper over Chart.js (served from /assets/chart.js): per-minute bar charts updated in place.
(function () {
  'use strict';

  function bars(canvas, color, label) {
    var chart = new Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [{ label: label, data: [], backgroundColor: color, borderRadius: 2, maxBarThickness: 18 }] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        plugins: { legend: { display: false }, tooltip: { intersect: false, mode: 'index' } },
        scales: {
          x: { grid: { display: false }, ticks: { autoSkip: true, maxTicksLimit: 12, maxRotation: 0, color: '#6b7588' } },
          y: { beginAtZero: true, grid: { color: '#eef1f5' }, ticks: { precision: 0, maxTicksLimit: 5, color: '#6b7588' } },
        },
      },
    });
    return {
      set: function (labels, values) {
        chart.data.labels = labels;
        chart.data.datasets[0].data = values;
        chart.update('none');
      },
    };
  }

  window.DashboardCharts = { bars: bars };
})();
