// hush payment panel: the agent's current call, pause/resume, and "take payment" (secure
// capture) with a '*' per digit keyed. Served by hushd at /agent, and at /embed.js for an
// agent desktop of another origin:
//
//   <div id="pay"></div>
//   <script src="https://hush.example.com:8080/embed.js"></script>
//   <script>HushPanel.mount(document.getElementById("pay"), {token: accessToken, agent: "a-17"});</script>
//
// ({session: id} instead of agent watches one session.) The desktop's origin must be in
// hushd's http.cors_origins. The panel never sees a digit: hush sends only '*'s.
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : location.origin;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "class") e.className = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function requestId(what, id) {
    var r = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
    return what + ":" + id + ":" + r;
  }

  // What the agent hears while the customer keys, by the masking toward the agent.
  function hears(mode) {
    var what = {
      MASK_MODE_TONE: "a short flat tone for each key the customer presses",
      MASK_MODE_SILENCE: "silence while the customer presses a key",
      MASK_MODE_COMFORT_NOISE: "soft noise while the customer presses a key"
    }[mode] || "the keys masked";
    return "While hush takes the payment you hear " + what + ", never the digit. The recording is masked too.";
  }

  function Panel(root, opts) {
    this.opts = opts || {};
    this.root = root;
    this.session = null;
    this.abort = null;
    this.build();
  }

  Panel.prototype.api = function (method, path, body, signal) {
    var headers = {};
    if (this.opts.token) headers["Authorization"] = "Bearer " + this.opts.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(base + path, {
      method: method, headers: headers, signal: signal, cache: "no-store",
      credentials: this.opts.token ? "omit" : "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      if (res.ok) return res;
      return res.json().catch(function () { return {}; }).then(function (e) {
        var err = new Error(e.message || ("HTTP " + res.status));
        err.status = res.status;
        throw err;
      });
    });
  };

  Panel.prototype.build = function () {
    var p = this.ui = {};
    var sec = el("section", {"class": "hush-panel", "aria-labelledby": "hush-title"});
    sec.appendChild(p.title = el("h2", {id: "hush-title"}, "Current call"));
    sec.appendChild(p.call = el("p", {"class": "call"}, "Looking for your call…"));
    var states = el("ul", {"class": "states", "aria-label": "Call state"});
    states.appendChild(p.rec = el("li", {"class": "state"}, "Recording: —"));
    states.appendChild(p.cap = el("li", {"class": "state"}, "Secure capture: off"));
    sec.appendChild(states);
    var actions = el("div", {"class": "actions"});
    actions.appendChild(p.pause = el("button", {type: "button", disabled: ""}, "Pause recording"));
    actions.appendChild(p.take = el("button", {type: "button", "class": "primary big", disabled: ""}, "Take payment"));
    var lenLabel = el("label", {"for": "hush-len"}, "Card length");
    p.len = el("select", {id: "hush-len"});
    [["16", "16 digits"], ["15", "15 digits"], ["19", "19 digits"], ["0", "until the customer presses #"]].forEach(function (o) {
      p.len.appendChild(el("option", {value: o[0]}, o[1]));
    });
    var lenWrap = el("div", {"class": "len"});
    lenWrap.appendChild(lenLabel);
    lenWrap.appendChild(p.len);
    actions.appendChild(lenWrap);
    sec.appendChild(actions);
    var cap = p.capture = el("div", {"class": "capture", hidden: ""});
    cap.appendChild(el("h3", {id: "hush-card"}, "Card number"));
    cap.appendChild(p.stars = el("div", {"class": "stars", "aria-hidden": "true", id: "hush-stars"}));
    cap.appendChild(p.count = el("p", {"class": "count", id: "hush-count"}, "No digits yet"));
    cap.appendChild(p.verdict = el("p", {"class": "verdict", id: "hush-verdict"}));
    cap.appendChild(p.hears = el("p", {"class": "hears", id: "hush-hears"}, hears("")));
    sec.appendChild(cap);
    sec.appendChild(p.live = el("p", {"class": "visually-hidden", role: "status", "aria-live": "polite", id: "hush-live"}));
    sec.appendChild(p.problem = el("p", {"class": "problem", role: "alert", id: "hush-problem"}));
    this.root.textContent = "";
    this.root.appendChild(sec);
    var self = this;
    p.pause.addEventListener("click", function () { self.togglePause(); });
    p.take.addEventListener("click", function () { self.toggleCapture(); });
  };

  Panel.prototype.say = function (text) { this.ui.live.textContent = text; };
  Panel.prototype.fail = function (err) {
    var msg = err && err.message ? err.message : String(err);
    if (err && err.status === 401) msg = this.opts.token ? "Your token was refused: " + msg : "Please sign in again (" + msg + ").";
    this.ui.problem.textContent = msg;
  };

  Panel.prototype.start = function () {
    var self = this;
    if (this.opts.session) return this.watch(this.opts.session);
    if (!this.opts.agent) { this.ui.call.textContent = "No agent id given."; return; }
    this.api("GET", "/v1/sessions?agentId=" + encodeURIComponent(this.opts.agent) + "&pageSize=50").then(function (res) {
      return res.json();
    }).then(function (list) {
      var live = (list.sessions || []).filter(function (s) { return s.state === "SESSION_STATE_ACTIVE"; });
      live.sort(function (a, b) { return (b.createTime || "").localeCompare(a.createTime || ""); });
      if (!live.length) {
        self.ui.call.textContent = "No call right now. This panel shows the next one.";
        self.timer = setTimeout(function () { self.start(); }, 3000);
        return;
      }
      self.watch(live[0].sessionId);
    }).catch(function (e) { self.fail(e); });
  };

  Panel.prototype.watch = function (id) {
    var self = this;
    if (this.abort) this.abort.abort();
    var ac = this.abort = new AbortController();
    this.api("GET", "/v1/sessions/" + encodeURIComponent(id) + ":watch", undefined, ac.signal).then(function (res) {
      var reader = res.body.getReader();
      var dec = new TextDecoder();
      var buf = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return;
          buf += dec.decode(r.value, {stream: true});
          var i;
          while ((i = buf.indexOf("\n")) >= 0) {
            var line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            var m = JSON.parse(line);
            if (m.error) { var e = new Error(m.error.message); e.status = 0; throw e; }
            self.event(m.result);
          }
          return pump();
        });
      }
      return pump();
    }).then(function () {
      if (!self.opts.session && self.opts.agent) self.timer = setTimeout(function () { self.start(); }, 1000);
    }).catch(function (e) { if (e.name !== "AbortError") self.fail(e); });
  };

  Panel.prototype.event = function (ev) {
    var s = ev.snapshot || (ev.updated && ev.updated.session) || (ev.ended && ev.ended.session);
    if (s) this.show(s);
    if (ev.recording) this.showRecording(ev.recording.state);
    if (ev.secureCapture) this.showCapture(ev.secureCapture.state === "SECURE_CAPTURE_STATE_ON", ev.secureCapture.reason);
    if (ev.digits) this.showDigits(ev.digits);
    if (ev.ended) {
      this.ui.call.textContent = "The call has ended.";
      this.ui.pause.disabled = true;
      this.ui.take.disabled = true;
      this.say("The call has ended.");
    }
  };

  Panel.prototype.show = function (s) {
    this.session = s;
    var started = s.createTime ? new Date(s.createTime).toLocaleTimeString() : "";
    this.ui.call.textContent = "Call " + (s.callId || s.sessionId) + (started ? " · since " + started : "");
    this.ui.pause.disabled = false;
    this.ui.take.disabled = false;
    this.ui.problem.textContent = "";
    var pol = s.policy && s.policy.customerToAgent;
    this.ui.hears.textContent = hears(pol && pol.mode);
    this.showRecording(s.recordingState);
    this.showCapture(s.secureCaptureState === "SECURE_CAPTURE_STATE_ON");
    if (s.digitProgress) this.showDigits(s.digitProgress);
  };

  Panel.prototype.showRecording = function (st) {
    var paused = st === "RECORDING_STATE_PAUSED";
    this.recPaused = paused;
    var label = {RECORDING_STATE_ACTIVE: "recording", RECORDING_STATE_PAUSED: "paused", RECORDING_STATE_STOPPED: "not recorded", RECORDING_STATE_FAILED: "failed"}[st] || "—";
    this.ui.rec.textContent = "Recording: " + label;
    this.ui.rec.className = "state" + (paused ? " paused" : "");
    this.ui.pause.textContent = paused ? "Resume recording" : "Pause recording";
    this.ui.pause.disabled = st === "RECORDING_STATE_STOPPED" || st === "RECORDING_STATE_FAILED" || !st;
  };

  Panel.prototype.showCapture = function (on, reason) {
    this.capturing = on;
    this.ui.cap.textContent = "Secure capture: " + (on ? "on" : "off");
    this.ui.cap.className = "state" + (on ? " on" : "");
    this.ui.take.textContent = on ? "Stop taking payment" : "Take payment";
    this.ui.len.disabled = on;
    if (on) {
      this.ui.capture.hidden = false;
      this.ui.hears.hidden = false;
    } else if (reason) {
      this.ui.hears.hidden = true;
      // A completed capture stops itself: its verdict, just announced, stays the news.
      var stopped = "Secure capture stopped" + (reason === "request" ? "." : " (" + reason.replace(/_/g, " ") + ").");
      this.say(this.verdict ? this.verdict + " " + stopped : stopped);
    }
  };

  Panel.prototype.showDigits = function (p) {
    var n = p.count || 0;
    this.ui.capture.hidden = false;
    this.ui.stars.textContent = p.masked || "";
    this.ui.count.textContent = n === 1 ? "1 digit" : n + " digits";
    var v = this.ui.verdict;
    this.verdict = "";
    if (p.complete && p.luhn === "LUHN_RESULT_VALID") {
      v.textContent = "Complete: the card number passes the check-digit test.";
      v.className = "verdict valid";
      this.say(this.verdict = "Card number complete, " + n + " digits. It passes the check-digit test.");
    } else if (p.complete && p.luhn === "LUHN_RESULT_INVALID") {
      v.textContent = "Complete, but the card number fails the check-digit test: ask the customer to key it again.";
      v.className = "verdict invalid";
      this.say(this.verdict = "Card number complete, " + n + " digits. It fails the check-digit test.");
    } else {
      v.textContent = "";
      v.className = "verdict";
      this.say(n === 1 ? "1 digit entered." : n + " digits entered.");
    }
  };

  Panel.prototype.togglePause = function () {
    var s = this.session, self = this;
    if (!s) return;
    var verb = this.recPaused ? "resumeRecording" : "pauseRecording";
    var body = {requestId: requestId(verb, s.sessionId)};
    if (verb === "pauseRecording") body.reason = "paused from the payment panel";
    this.api("POST", "/v1/sessions/" + encodeURIComponent(s.sessionId) + ":" + verb, body).then(function (res) {
      return res.json();
    }).then(function (sess) { self.showRecording(sess.recordingState); }).catch(function (e) { self.fail(e); });
  };

  Panel.prototype.toggleCapture = function () {
    var s = this.session, self = this;
    if (!s) return;
    var verb = this.capturing ? "stopSecureCapture" : "startSecureCapture";
    var body = {requestId: requestId(verb, s.sessionId)};
    if (verb === "startSecureCapture") {
      body.maxDigits = parseInt(this.ui.len.value, 10) || 0;
      this.ui.stars.textContent = "";
      this.ui.count.textContent = "No digits yet";
      this.ui.verdict.textContent = "";
    }
    this.api("POST", "/v1/sessions/" + encodeURIComponent(s.sessionId) + ":" + verb, body).then(function (res) {
      return res.json();
    }).then(function (sess) {
      var on = sess.secureCaptureState === "SECURE_CAPTURE_STATE_ON";
      self.showCapture(on);
      if (on) self.say("Secure capture on: ask the customer to key the card number.");
    }).catch(function (e) { self.fail(e); });
  };

  window.HushPanel = {
    mount: function (root, opts) {
      var p = new Panel(root, opts);
      p.start();
      return p;
    }
  };

  // hushd's own page: the container says which agent or session, or asks.
  var own = document.getElementById("hush-panel");
  if (own && !(script && script.src.indexOf("/embed.js") >= 0)) {
    var agent = own.getAttribute("data-agent"), session = own.getAttribute("data-session");
    if (agent || session) {
      window.HushPanel.mount(own, {agent: agent, session: session});
    } else {
      var form = document.getElementById("hush-find");
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var a = document.getElementById("hush-agent-id").value.trim();
        if (!a) return;
        history.replaceState(null, "", "?agent=" + encodeURIComponent(a));
        window.HushPanel.mount(own, {agent: a});
      });
    }
  }
})();
