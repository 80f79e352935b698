/*
 * The camera test page (appointments.telehealth_views.camera_test): a local preview of the
 * camera, and a check that the microphone gives a signal. Nothing is recorded or uploaded. The
 * strict CSP forbids inline scripts, so this lives here; the page's own Permissions-Policy
 * allows the camera and microphone for our origin (every other page denies them).
 */
(function () {
  "use strict";

  var start = document.getElementById("camera-start");
  var stop = document.getElementById("camera-stop");
  var status = document.getElementById("camera-status");
  var preview = document.getElementById("camera-preview");
  var stream = null;

  function say(text) {
    status.textContent = text;
  }

  function end() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    preview.srcObject = null;
    preview.classList.add("d-none");
    stop.classList.add("d-none");
    start.classList.remove("d-none");
  }

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This browser cannot use a camera here. Try an up-to-date Chrome, Edge, Firefox or Safari.");
    start.disabled = true;
    return;
  }

  start.addEventListener("click", function () {
    say("Asking for your camera and microphone…");
    navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then(function (media) {
      stream = media;
      preview.srcObject = media;
      // Started by the click (a user activation), so no autoplay permission is needed.
      preview.play().catch(function () {});
      preview.classList.remove("d-none");
      start.classList.add("d-none");
      stop.classList.remove("d-none");
      var cameras = media.getVideoTracks().length;
      var microphones = media.getAudioTracks().length;
      say((cameras ? "Your camera works" : "No camera found") + " · " +
          (microphones ? "your microphone is connected." : "no microphone found."));
    }).catch(function (error) {
      var blocked = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      say(blocked
        ? "The browser blocked the camera. Allow it in the address bar's site settings, then try again."
        : "No camera or microphone could be opened (" + (error && error.name) + ").");
    });
  });

  stop.addEventListener("click", function () {
    end();
    say("Test stopped.");
  });
  window.addEventListener("pagehide", end);
})();
