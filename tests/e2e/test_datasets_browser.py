"""Switching the model in the sidebar switches the dataset everywhere: test set, legend names,
colours, the manifold, and whether drawing is offered."""
import pytest

from harness.browser import (dataset_of, no_exceptions, pick_model, screenshot, wait_ready)

pytestmark = pytest.mark.browser

MNIST_MODEL, FASHION_MODEL = "reference", "fashion-reference"
SWATCHES = "items => items.map(b => [b.innerText.trim(), getComputedStyle(b.querySelector('.swatch')).backgroundColor])"


def rgb(hex_colour):
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def pad_legend(page):
    page.wait_for_selector(".st-key-latent_pad .vae-pad[data-ready=true]")
    return page.locator(".st-key-latent_pad .legend-item").evaluate_all(SWATCHES)


def manifold_image(page):
    page.wait_for_selector(".st-key-manifold_chart image")
    return page.locator(".st-key-manifold_chart image").first.get_attribute("href")


def test_switching_the_model_switches_the_dataset_everywhere(page, server):
    mnist, fashion = dataset_of(MNIST_MODEL), dataset_of(FASHION_MODEL)
    assert mnist.name != fashion.name, "the shipped models must cover two datasets"
    page.goto(server + f"/?model={MNIST_MODEL}&z=0.5,-0.5")
    wait_ready(page)
    assert pad_legend(page) == [[n, rgb(c)] for n, c in zip(mnist.class_names, mnist.class_colors)]

    pick_model(page, FASHION_MODEL)
    assert pad_legend(page) == [[n, rgb(c)] for n, c in zip(fashion.class_names, fashion.class_colors)]
    assert fashion.title in page.locator("[data-testid=stCaptionContainer]").first.inner_text()
    screenshot(page, "pad-fashion")

    page.get_by_role("tab", name="Test-set map").click()
    wait_ready(page)
    page.wait_for_selector(".st-key-map_chart .legendtext")
    assert page.locator(".st-key-map_chart .legendtext").all_text_contents()[:10] == list(fashion.class_names)

    page.get_by_role("tab", name="Manifold").click()
    wait_ready(page)
    fashion_grid = manifold_image(page)
    page.get_by_role("tab", name="Draw").click()
    wait_ready(page)
    page.get_by_text("Drawing is for datasets of strokes").wait_for()
    assert page.locator(".st-key-canvas_0").count() == 0
    no_exceptions(page)

    assert "z=0.500%2C-0.500" in page.url or "z=0.5%2C-0.5" in page.url  # the point survives the switches
    pick_model(page, MNIST_MODEL)  # back: the manifold and drawing follow
    page.get_by_role("tab", name="Manifold").click()
    wait_ready(page)
    assert manifold_image(page) != fashion_grid
    page.get_by_role("tab", name="Draw").click()
    wait_ready(page)
    page.wait_for_selector(".st-key-canvas_0 canvas")
    no_exceptions(page)
