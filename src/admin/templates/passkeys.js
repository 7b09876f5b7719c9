// Passkey registration on /admin/passkeys: asks Warden for creation options, lets the browser
// create the credential (user verification required), and sends its JSON back.
"use strict";
(function () {
  const button = document.getElementById("add-passkey");
  const status = document.getElementById("passkey-status");
  if (!button) return;
  const csrf = button.dataset.csrf;
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
  button.addEventListener("click", async () => {
    status.textContent = "Waiting for your authenticator…";
    status.className = "";
    try {
      const options = await post("/admin/passkeys/register/begin");
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey || options);
      const cred = await navigator.credentials.create({ publicKey });
      const done = await post("/admin/passkeys/register/finish", cred.toJSON());
      status.textContent = "Passkey added.";
      status.className = "ok";
      status.dataset.credential = done.credential_id;
      window.location.reload();
    } catch (e) {
      status.textContent = "Not added: " + e.message;
      status.className = "error";
    }
  });
})();
