// The step-up page: asks the authenticator for an assertion with user verification over
// Warden's challenge and sends it back; Warden counts the approval only if it verifies.
"use strict";
(function () {
  const button = document.getElementById("confirm-step-up");
  const status = document.getElementById("step-up-status");
  if (!button) return;
  // A kill-switch confirmation names its own base; an approval's is the token's link.
  const base = button.dataset.base || "/admin/step-up/" + encodeURIComponent(button.dataset.token);
  async function post(path, body) {
    const resp = await fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": button.dataset.csrf },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || "Warden refused (" + resp.status + ")");
    return data;
  }
  function show(text, kind) {
    status.textContent = text;
    status.className = kind;
  }
  button.addEventListener("click", async () => {
    show("Waiting for your authenticator…", "");
    try {
      const options = await post("/begin");
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey || options);
      let cred;
      try {
        cred = await navigator.credentials.get({ publicKey });
      } catch (e) {
        // Tell Warden the challenge went unanswered (only the error's name), for the record.
        await post("/abandon", { error: e.name }).catch(() => {});
        throw e;
      }
      await post("/finish", cred.toJSON());
      show("Confirmed with your passkey. You can close this page.", "ok");
      button.disabled = true;
    } catch (e) {
      show("Not confirmed: " + e.message, "error");
    }
  });
})();
