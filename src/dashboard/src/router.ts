import { useEffect, useState } from 'preact/hooks';

/** The page's location, for history-based navigation without reloading. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = (): void => setPath(location.pathname);
    addEventListener('popstate', update);
    addEventListener('slipway:navigate', update);
    return () => {
      removeEventListener('popstate', update);
      removeEventListener('slipway:navigate', update);
    };
  }, []);
  return path;
}

export function navigate(to: string): void {
  history.pushState(null, '', to);
  dispatchEvent(new Event('slipway:navigate'));
  scrollTo(0, 0);
}

/** A same-page link: a real <a href> (keyboard, middle-click) that navigates without reloading. */
export function onLinkClick(event: MouseEvent): void {
  const a = event.currentTarget as HTMLAnchorElement;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(a.getAttribute('href')!);
}
