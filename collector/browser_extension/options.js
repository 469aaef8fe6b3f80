"use strict";
const api = globalThis.browser || globalThis.chrome;
const port = document.getElementById("port"), token = document.getElementById("token");
api.storage.local.get(["port", "token"]).then((cfg) => {
  port.value = cfg.port || "";
  token.value = cfg.token || "";
});
document.getElementById("save").addEventListener("click", async () => {
  await api.storage.local.set({port: Number(port.value), token: token.value});
  document.getElementById("status").textContent = "saved";
});
