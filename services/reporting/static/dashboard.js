// vhub dashboard: refreshes the server-rendered page from the read API. No dependencies.
"use strict";
(function () {
  const body = document.body;
  const every = Number(body.dataset.refreshMs) || 10000;
  const num = new Intl.NumberFormat("vi-VN");
  const $ = (sel) => document.querySelector(sel);
  const text = (el, value) => { if (el && el.textContent !== String(value)) el.textContent = String(value); };
  const get = async (path) => {
    const resp = await fetch(path, { headers: { Accept: "application/json" } });
    if (!resp.ok && resp.status !== 503) throw new Error(path + ": " + resp.status);
    return resp.json();
  };
  const localDay = () => new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Ho_Chi_Minh" });
  const ago = (iso) => {
    if (!iso) return "—";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
  };

  function figures(summary) {
    for (const dd of document.querySelectorAll("[data-figure]")) {
      text(dd, summary.figures[dd.dataset.figure]);
    }
    const restated = $("#restated");  // a published figure changed by a later fact
    restated.hidden = !summary.restated_at;
    text($("#restated-at"), summary.restated_at || "—");
    text($("#position"), summary.freshness.position);
    text($("#last-event-at"), summary.freshness.last_event_at || "—");
  }

  function provinces(list) {
    for (const item of list.items) {
      const row = document.querySelector('tr[data-code="' + item.code + '"]');
      if (!row) continue;
      for (const td of row.querySelectorAll("[data-col]")) text(td, item[td.dataset.col]);
      row.classList.toggle("restated", Boolean(item.restated_at));
      if (item.restated_at) row.dataset.restatedAt = item.restated_at; else delete row.dataset.restatedAt;
    }
  }

  function border(list) {
    const rows = list.items;
    text($("#border-date"), list.date);
    text($("#border-day"), rows.filter((r) => r.covered_day).length);
    text($("#border-week"), rows.filter((r) => r.covered_week).length);
    const never = rows.filter((r) => !r.days_covered);
    text($("#border-never"), never.length);
    text($("#border-total"), rows.length);
    text($("#border-never-names"), never.map((r) => r.name || r.commune_code).join(", ") || "—");
  }

  // The daily series as an SVG bar chart (check-ins) with a line (people supported).
  function chart(daily) {
    const el = $("#chart");
    const days = daily.items;
    if (!days.length) { el.textContent = "Chưa có số liệu theo ngày."; return; }
    const W = 640, H = 220, pad = 28, bw = (W - 2 * pad) / days.length;
    const maxC = Math.max(1, ...days.map((d) => d.check_ins));
    const maxP = Math.max(1, ...days.map((d) => d.people_supported));
    const y = (v, max) => H - pad - (v / max) * (H - 2 * pad);
    let svg = '<svg viewBox="0 0 ' + W + " " + H + '" preserveAspectRatio="none">';
    days.forEach((d, i) => {
      const x = pad + i * bw, top = y(d.check_ins, maxC);
      svg += '<rect class="bar' + (d.restated_at ? " restated" : "") + '" data-day="' + d.day + '" x="' + (x + 1) + '" y="' + top + '" width="' + Math.max(1, bw - 2) +
        '" height="' + (H - pad - top) + '"><title>' + d.day + ": " + num.format(d.check_ins) +
        " lượt có mặt, " + num.format(d.people_supported) + " người dân" +
        (d.restated_at ? " · đã điều chỉnh (restated) " + d.restated_at : "") + "</title></rect>";
    });
    const pts = days.map((d, i) => (pad + (i + 0.5) * bw) + "," + y(d.people_supported, maxP)).join(" ");
    svg += '<polyline class="line" points="' + pts + '"/>';
    svg += '<text x="' + pad + '" y="' + (H - 8) + '">' + days[0].day + "</text>";
    svg += '<text x="' + (W - pad) + '" y="' + (H - 8) + '" text-anchor="end">' + days[days.length - 1].day + "</text>";
    svg += '<text x="' + pad + '" y="16">▮ lượt có mặt (max ' + num.format(maxC) + ")  — người dân (max " +
      num.format(maxP) + ")</text></svg>";
    el.innerHTML = svg;
  }

  // a hub's source in words: local (a hub's own reporting), active, or cut off since when
  function source(h) {
    if (h.source === "cut_off") return "mất kết nối (cut off)" + (h.cut_off_since ? " từ " + h.cut_off_since : "");
    if (h.source === "active") return "đang nhận (active)";
    if (h.source === "local") return "tại chỗ (local)";
    return "không rõ (unknown)";
  }

  function operations(fresh, services) {
    const tbody = $("#freshness tbody");
    tbody.innerHTML = "";
    for (const h of fresh.hubs) {
      const tr = document.createElement("tr");
      tr.dataset.hub = h.hub;
      tr.dataset.source = h.source;
      tr.className = h.source === "cut_off" || h.source === "unknown" ? "bad" : "ok";
      const lag = h.lag === null ? "—" : num.format(h.lag);
      const cells = [h.hub, h.position, (h.last_event_at || "—") + " (" + ago(h.last_event_at) + ")", lag,
        source(h), h.events_applied];
      cells.forEach((v, i) => {
        const td = document.createElement(i ? "td" : "th");
        td.textContent = String(v);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    text($("#dead-letters"), fresh.dead_lettered);
    health(services);
  }

  // every instance at every hub, from service discovery ($SRV.STATS), as `vhub status` shows it
  function health(services) {
    const items = services.items.map((r) => {
      const li = document.createElement("li");
      li.className = r.healthy ? "ok" : "bad";
      li.dataset.service = r.service;
      li.dataset.hub = r.hub;
      const state = r.healthy ? "sẵn sàng (healthy)" : "không sẵn sàng (unhealthy): " + r.reason;
      const rate = r.commands_per_s === null ? "" : " · " + num.format(Math.round(r.commands_per_s)) + " lệnh/s";
      li.textContent = r.service + " @ " + r.hub + " #" + r.instance + ": " + state + " · lag " +
        (r.lag === null ? "—" : r.lag) + " · dead letters " + (r.dead_letters === null ? "—" : r.dead_letters) + rate;
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "bad";
      li.textContent = "chưa có số liệu (no $SRV survey yet)";
      items.push(li);
    }
    $("#health").replaceChildren(...items);
  }

  async function refresh() {
    try {
      const [summary, provs, bord, daily, fresh, services] = await Promise.all([
        get("/v1/summary"), get("/v1/provinces"), get("/v1/border-communes?date=" + localDay()),
        get("/v1/daily"), get("/v1/freshness"), get("/services"),
      ]);
      figures(summary); provinces(provs); border(bord); chart(daily); operations(fresh, services);
      text($("#updated"), "cập nhật " + new Date().toLocaleTimeString("vi-VN"));
      body.dataset.position = String(summary.freshness.position);
      body.classList.remove("stale");
    } catch (err) {
      body.classList.add("stale");
      text($("#updated"), "không tải được (" + err.message + ")");
    }
  }

  refresh();
  setInterval(refresh, every);
})();
