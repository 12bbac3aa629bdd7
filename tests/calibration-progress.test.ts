// kiln compile's calibration progress bar: drawn on a terminal only, with the count and the images/s rate.
import { describe, expect, it } from "vitest";
import { progressBar, rateText } from "../bin/progress.js";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text(): string } {
  let written = "";
  const stream = { isTTY, write: (s: string) => { written += s; return true; } } as unknown as NodeJS.WriteStream;
  return { stream, text: () => written };
}

describe("the progress bar", () => {
  it("shows the count, the percent and a rate in the unit it is given, ending with a newline", () => {
    const { stream, text } = fakeStream(true);
    const bar = progressBar("calibrating", 200, true, stream, "images");
    for (let i = 1; i <= 200; i++) bar.update(i);
    bar.done();
    const lines = text().split("\r").filter(Boolean);
    const last = lines[lines.length - 1];
    expect(last).toMatch(/^calibrating .* 100%  200\/200  \d+\.\d s  (\d+(\.\d)? images\/s|\d+\.\d\d s\/image)\n$/);
    // One line per percent at most (plus the final one), not one per image.
    expect(lines.length).toBeLessThanOrEqual(102);
  });

  it("draws nothing off a terminal or when disabled, and no rate without a unit", () => {
    for (const [tty, enabled] of [[false, true], [true, false]]) {
      const { stream, text } = fakeStream(tty);
      const bar = progressBar("calibrating", 10, enabled, stream, "images");
      bar.update(5);
      bar.done();
      expect(text()).toBe("");
    }
    const { stream, text } = fakeStream(true);
    const bar = progressBar("evaluating", 4, true, stream);
    bar.update(4);
    bar.done();
    expect(text()).not.toMatch(/\/s/);
  });

  it("gives items per second, or seconds per item when items take longer than a second", () => {
    expect(rateText(200, 4, "images")).toBe("50.0 images/s");
    expect(rateText(5000, 2, "images")).toBe("2500 images/s");
    expect(rateText(3, 6, "images")).toBe("2.00 s/image");
    expect(rateText(0, 1, "images")).toBe("");
  });
});
