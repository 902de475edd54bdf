// The consoles' only script of their own (no inline scripts: the Content-Security-Policy allows
// none). It adds the CSRF token to htmx requests, sends uploads with a progress bar, and draws
// charts (uPlot) from data-series attributes. Pages work without it, except upload progress.
'use strict';
(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }

  document.addEventListener('htmx:configRequest', function (e) {
    e.detail.headers['x-csrf-token'] = csrf();
  });

  var XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

  // <form data-upload data-target="#id"> with a file input named "file": the file is sent as the
  // request body (streamed by the server), the answer (an HTML fragment) replaces the target.
  function upload(form) {
    var input = form.querySelector('input[type=file]');
    var file = input && input.files && input.files[0];
    var target = document.querySelector(form.getAttribute('data-target'));
    var bar = form.querySelector('progress');
    if (!file || !target) return;
    var params = new URLSearchParams();
    form.querySelectorAll('select, input[type=text]').forEach(function (el) {
      if (el.name && el.value) params.set(el.name, el.value);
    });
    params.set('name', file.name);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.getAttribute('action') + '?' + params.toString());
    xhr.setRequestHeader('content-type', /\.xlsx$/i.test(file.name) ? XLSX : 'text/csv');
    xhr.setRequestHeader('x-csrf-token', csrf());
    xhr.setRequestHeader('hx-request', 'true');
    if (bar) { bar.hidden = false; bar.value = 0; bar.removeAttribute('data-done'); }
    xhr.upload.onprogress = function (e) {
      if (bar && e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    };
    xhr.onload = function () {
      if (bar) { bar.value = 100; bar.setAttribute('data-done', 'true'); }
      var redirect = xhr.getResponseHeader('hx-redirect');
      if (redirect) { window.location.href = redirect; return; }
      target.innerHTML = xhr.responseText;
      if (window.htmx) window.htmx.process(target);
    };
    xhr.onerror = function () {
      target.textContent = '上传中断，请检查网络后重试';
    };
    target.textContent = '正在上传并校验…';
    xhr.send(file);
  }

  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form.hasAttribute('data-confirm') && !window.confirm(form.getAttribute('data-confirm'))) {
      e.preventDefault();
      return;
    }
    if (form.hasAttribute('data-upload')) {
      e.preventDefault();
      upload(form);
    }
  });

  // A chart from `data-series` (inline JSON {label, x, y}) or `data-series-url` (fetched JSON
  // {x, series: [{label, y, colour}]}), drawn once.
  function draw(el, x, series) {
    var opts = {
      width: el.clientWidth || 600,
      height: 180,
      series: [{}].concat(series.map(function (s) {
        return { label: s.label, stroke: s.colour || '#1f5fa8', fill: series.length === 1 ? 'rgba(31,95,168,0.12)' : undefined };
      })),
      axes: [{}, {}],
    };
    new window.uPlot(opts, [x].concat(series.map(function (s) { return s.y; })), el);
  }

  function charts(root) {
    if (!window.uPlot) return;
    root.querySelectorAll('[data-series], [data-series-url]').forEach(function (el) {
      if (el.getAttribute('data-drawn')) return;
      el.setAttribute('data-drawn', 'true');
      var url = el.getAttribute('data-series-url');
      if (!url) {
        var s = JSON.parse(el.getAttribute('data-series'));
        draw(el, s.x, [{ label: s.label, y: s.y }]);
        return;
      }
      fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(function (d) {
          draw(el, d.x, d.series);
          el.setAttribute('data-loaded', 'true');
        })
        .catch(function () {
          el.textContent = '图表数据加载失败，请刷新页面';
        });
    });
  }
  document.addEventListener('DOMContentLoaded', function () { charts(document); });
  document.addEventListener('htmx:afterSwap', function (e) { charts(e.target); });
})();
