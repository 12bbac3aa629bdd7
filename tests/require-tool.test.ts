// The skip policy for tests that need a system tool: a visible notice naming it when missing, a failure under CI=true.
import { afterEach, describe, expect, it, vi } from "vitest";
import { hasCommand, requireCommand, requirePath } from "./require-tool.js";

const MISSING = "kiln-no-such-tool-7f3a";

describe("requireCommand / requirePath", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("finds a command that runs (node) and not one that is not on PATH", () => {
    expect(hasCommand(process.execPath, ["--version"])).toBe(true);
    expect(hasCommand(MISSING)).toBe(false);
  });

  it("lets the tests run when the tool is there, with nothing to add to the title", () => {
    expect(requireCommand(process.execPath, "install node", ["--version"])).toEqual({ ok: true, note: "" });
  });

  it("skips with a notice naming the tool and how to install it, printed and for the title", () => {
    vi.stubEnv("CI", "");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const need = requireCommand(MISSING, `apt-get install ${MISSING}`);
    expect(need.ok).toBe(false);
    expect(need.note).toBe(` (skipped: needs ${MISSING} (apt-get install ${MISSING}))`);
    expect(warn).toHaveBeenCalledWith(`skipped: needs ${MISSING} (apt-get install ${MISSING})`);
    expect(requirePath("a data set", "/nonexistent/kiln/data", "apt-get install data").ok).toBe(false);
  });

  it("under CI=true a missing tool is an error naming it, never a skip", () => {
    vi.stubEnv("CI", "true");
    expect(() => requireCommand(MISSING, `apt-get install ${MISSING}`)).toThrow(new RegExp(`${MISSING} is missing.*CI=true.*apt-get install ${MISSING}`));
    expect(() => requirePath("dataset-fashion-mnist", undefined, "apt-get install dataset-fashion-mnist")).toThrow(/dataset-fashion-mnist is missing/);
  });
});
