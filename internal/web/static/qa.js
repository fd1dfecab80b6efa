// QA console: clicking the waveform plays from that point; the playhead follows the audio.
(function () {
  "use strict";
  var wave = document.getElementById("wave");
  var audio = document.getElementById("audio");
  if (!wave || !audio) return;
  var svg = wave.querySelector("svg");
  var head = document.getElementById("playhead");
  var seconds = parseFloat(wave.getAttribute("data-seconds")) || 0;
  var cols = parseInt(wave.getAttribute("data-columns"), 10) || 1;

  function playFrom(t) {
    if (!(t >= 0)) return;
    audio.currentTime = Math.min(t, seconds);
    var p = audio.play();
    if (p && p.catch) p.catch(function () {});
  }
  svg.addEventListener("click", function (e) {
    var r = svg.getBoundingClientRect();
    playFrom((e.clientX - r.left) / r.width * seconds);
  });
  Array.prototype.forEach.call(document.querySelectorAll("button.seek"), function (b) {
    b.addEventListener("click", function () { playFrom(parseFloat(b.getAttribute("data-at"))); });
  });
  audio.addEventListener("timeupdate", function () {
    var x = seconds > 0 ? audio.currentTime / seconds * cols : 0;
    head.setAttribute("x1", x);
    head.setAttribute("x2", x);
  });
})();
