// dinhdanh passkey step. The page's form carries the WebAuthn options (JSON, binary fields
// in unpadded base64url) in `data-options` and the ceremony in `data-ceremony` ("create" or
// "get"). Pressing the button asks the browser's authenticator, puts its answer in the hidden
// `credential` field as JSON (WebAuthn Level 3 §5.1.8, the shape of `toJSON()`) and posts
// the form. Nothing else runs here, and nothing leaves the page except that post.
"use strict";
(function () {
  var form = document.getElementById("passkey-form");
  if (!form) {
    return;
  }
  var button = document.getElementById("passkey-start");
  var failed = document.getElementById("passkey-failed");
  var field = document.getElementById("credential");

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBinaryIds(list) {
    return (list || []).map(function (descriptor) {
      var copy = Object.assign({}, descriptor);
      copy.id = fromBase64url(descriptor.id);
      return copy;
    });
  }

  // Browsers without `parseCreationOptionsFromJSON` get the binary fields decoded here.
  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromBase64url(json.user.id) });
    options.excludeCredentials = withBinaryIds(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.allowCredentials = withBinaryIds(json.allowCredentials);
    return options;
  }

  function answer(credential) {
    if (typeof credential.toJSON === "function") {
      return credential.toJSON();
    }
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (typeof response.getTransports === "function") {
        out.response.transports = response.getTransports();
      }
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) {
        out.response.userHandle = toBase64url(response.userHandle);
      }
    }
    return out;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    failed.hidden = true;
    button.disabled = true;
    // Anything that throws (no WebAuthn in this browser, options it cannot read) ends in the
    // same message as a cancelled ceremony.
    new Promise(function (resolve) {
      var options = JSON.parse(form.dataset.options);
      resolve(form.dataset.ceremony === "create"
        ? navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
        : navigator.credentials.get({ publicKey: requestOptions(options.publicKey) }));
    }).then(function (credential) {
      field.value = JSON.stringify(answer(credential));
      form.submit();
    }).catch(function () {
      button.disabled = false;
      failed.hidden = false;
      failed.focus();
    });
  });
}());
