"""A person in a real browser (headless Chromium through Selenium and chromedriver), driven by
tests/oidc.rs: from a relying party's authorization URL through the login page, the second
factor and the consent page, back to the relying party with a code.

Settings come as one JSON object on stdin: authorize_url, redirect_uri, citizen_number,
password, and either totp_secret (base32: an enrolled person logs in by keyboard with an
authenticator code) or name and birth_date (flow "passkey": a registered person without an
account enrols with a passkey on Chromium's virtual authenticator, then logs in with it).
It prints one JSON object with what the person saw.
"""

import base64
import hashlib
import hmac
import json
import struct
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.virtual_authenticator import (Protocol, Transport,
                                                             VirtualAuthenticatorOptions)
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def totp(secret_base32):
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time() // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def labelled_inputs(driver):
    """Every visible input must have a <label for> naming it."""
    missing = []
    for field in driver.find_elements(By.CSS_SELECTOR, "input:not([type=hidden])"):
        field_id = field.get_attribute("id")
        if not field_id or not driver.find_elements(By.CSS_SELECTOR, f'label[for="{field_id}"]'):
            missing.append(field.get_attribute("name"))
    return missing


def page_facts(driver):
    return {
        "path": driver.execute_script("return location.pathname"),
        "lang": driver.find_element(By.TAG_NAME, "html").get_attribute("lang"),
        "title": driver.title,
        "h1": driver.find_element(By.TAG_NAME, "h1").text,
        "unlabelled": labelled_inputs(driver),
    }


def consent_facts(driver):
    facts = page_facts(driver)
    facts["claims"] = [li.get_attribute("data-claim")
                       for li in driver.find_elements(By.CSS_SELECTOR, "[data-claim]")]
    facts["text"] = driver.find_element(By.TAG_NAME, "main").text
    return facts


def totp_flow(driver, wait, settings, seen):
    """An enrolled person logs in with an authenticator code, by keyboard only."""
    driver.get(settings["authorize_url"])
    wait.until(expected_conditions.presence_of_element_located((By.ID, "citizen_number")))
    seen.append(page_facts(driver))
    # Keyboard only: type, Tab to the next field, Enter submits.
    number = driver.find_element(By.ID, "citizen_number")
    number.send_keys(settings["citizen_number"], Keys.TAB)
    driver.switch_to.active_element.send_keys(settings["password"], Keys.ENTER)

    wait.until(expected_conditions.presence_of_element_located((By.ID, "code")))
    seen.append(page_facts(driver))
    driver.find_element(By.ID, "code").send_keys(totp(settings["totp_secret"]), Keys.ENTER)


def passkey_flow(driver, wait, settings, seen):
    """A registered person enrols with a passkey, then logs in with password and passkey."""
    options = VirtualAuthenticatorOptions()
    options.protocol = Protocol.CTAP2
    options.transport = Transport.INTERNAL
    options.has_resident_key = True
    options.has_user_verification = True
    options.is_user_verified = True
    options.is_user_consenting = True
    driver.add_virtual_authenticator(options)

    driver.get(settings["authorize_url"])
    wait.until(expected_conditions.presence_of_element_located((By.ID, "citizen_number")))
    seen.append(page_facts(driver))
    driver.find_element(By.CSS_SELECTOR, 'a[href^="/enrol"]').click()

    wait.until(expected_conditions.presence_of_element_located((By.ID, "second_factor_passkey")))
    seen.append(page_facts(driver))
    driver.find_element(By.ID, "citizen_number").send_keys(settings["citizen_number"])
    driver.find_element(By.ID, "name").send_keys(settings["name"])
    # A date input types in the browser's locale; set its value as the form sends it.
    driver.execute_script("arguments[0].value = arguments[1]",
                          driver.find_element(By.ID, "birth_date"), settings["birth_date"])
    driver.find_element(By.ID, "password").send_keys(settings["password"])
    driver.find_element(By.ID, "password_again").send_keys(settings["password"])
    driver.find_element(By.ID, "second_factor_passkey").click()
    driver.find_element(By.CSS_SELECTOR, 'form[action="/enrol"] button[type="submit"]').click()

    wait.until(expected_conditions.presence_of_element_located((By.ID, "passkey-start")))
    seen.append(page_facts(driver))
    driver.find_element(By.ID, "passkey-start").click()

    wait.until(expected_conditions.presence_of_element_located((By.ID, "passkey-added")))
    facts = page_facts(driver)
    facts["credentials"] = len(driver.get_credentials())
    seen.append(facts)
    driver.find_element(By.CSS_SELECTOR, 'a.button[href^="/login"]').click()

    wait.until(expected_conditions.presence_of_element_located((By.ID, "citizen_number")))
    driver.find_element(By.ID, "citizen_number").send_keys(settings["citizen_number"])
    driver.find_element(By.ID, "password").send_keys(settings["password"], Keys.ENTER)

    wait.until(expected_conditions.presence_of_element_located((By.ID, "passkey-start")))
    seen.append(page_facts(driver))
    driver.find_element(By.ID, "passkey-start").send_keys(Keys.ENTER)


def main():
    settings = json.load(sys.stdin)
    options = webdriver.ChromeOptions()
    options.binary_location = settings.get("chromium", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--no-proxy-server", "--lang=vi"):
        options.add_argument(flag)
    # A browser set to Vietnamese, as most of the provider's users' are.
    options.add_experimental_option("prefs", {"intl.accept_languages": "vi,vi-VN"})
    driver = webdriver.Chrome(service=Service(settings.get("chromedriver", "/usr/bin/chromedriver")),
                              options=options)
    seen = []
    try:
        wait = WebDriverWait(driver, 20)
        if settings.get("flow") == "passkey":
            passkey_flow(driver, wait, settings, seen)
        else:
            totp_flow(driver, wait, settings, seen)

        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[data-claim]")))
        seen.append(consent_facts(driver))
        allow = driver.find_element(By.CSS_SELECTOR, 'button[name="decision"][value="allow"]')
        allow.send_keys(Keys.ENTER)

        wait.until(lambda d: d.current_url.startswith(settings["redirect_uri"]))
        print(json.dumps({"pages": seen, "final_url": driver.current_url}))
    except Exception as err:  # noqa: BLE001 - report what the browser showed
        print(json.dumps({"error": repr(err), "pages": seen, "url": driver.current_url,
                          "source": driver.page_source[:2000]}))
        sys.exit(1)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
