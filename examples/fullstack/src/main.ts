import './style.css';

/** Shape of GET /api/greeting (myapp/app.py). */
interface Greeting {
  message: string;
  flask: string;
  python: string;
  served_from: string | null;
}

export const TITLE = 'pyz full-stack example';

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  return found;
}

async function showGreeting(): Promise<void> {
  element('title').textContent = TITLE;
  try {
    const response = await fetch('/api/greeting', { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`GET /api/greeting: HTTP ${response.status}`);
    const greeting = (await response.json()) as Greeting;
    element('greeting').textContent = greeting.message;
    element('details').textContent = `Flask ${greeting.flask} on Python ${greeting.python}, served from ${greeting.served_from ?? 'an unknown file'}`;
    document.body.dataset.state = 'ready';
  } catch (error) {
    element('greeting').textContent = String(error);
    document.body.dataset.state = 'error';
  }
}

void showGreeting();
