// Passkeys on /admin/passkeys: registration (Warden's creation options, the browser creates
// the credential with user verification, its JSON goes back) and a check of a registered
// passkey (an assertion with user verification).
"use strict";
(function () {
  const add = document.getElementById("add-passkey");
  const check = document.getElementById("check-passkey");
  const status = document.getElementById("passkey-status");
  if (!add) return;
  const csrf = add.dataset.csrf;
  async function post(path, body) {
    const resp = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
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
  add.addEventListener("click", async () => {
    show("Waiting for your authenticator…", "");
    try {
      const options = await post("/admin/passkeys/register/begin");
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey || options);
      const cred = await navigator.credentials.create({ publicKey });
      await post("/admin/passkeys/register/finish", cred.toJSON());
      show("Passkey added.", "ok");
      window.location.reload();
    } catch (e) {
      show("Not added: " + e.message, "error");
    }
  });
  check.addEventListener("click", async () => {
    show("Waiting for your authenticator…", "");
    try {
      const options = await post("/admin/passkeys/check/begin");
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey || options);
      const cred = await navigator.credentials.get({ publicKey });
      const done = await post("/admin/passkeys/check/finish", cred.toJSON());
      show("Passkey verified.", "ok");
      status.dataset.credential = done.credential_id;
    } catch (e) {
      show("Not verified: " + e.message, "error");
    }
  });
})();
