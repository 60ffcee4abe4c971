// Streamlit calls a component's function again on every rerun with the same parentElement:
// keep one view per element, update it, and destroy it in the cleanup Streamlit calls on
// unmount, which also releases the view's model for the page's cache (models.js).
export function mountView(View, views, { parentElement, data, setStateValue }) {
  let view = views.get(parentElement);
  if (!view) {
    view = new View(parentElement);
    views.set(parentElement, view);
  }
  view.update(data, setStateValue);
  return () => {
    view.destroy();
    useModel(view, null);
    views.delete(parentElement);
  };
}
