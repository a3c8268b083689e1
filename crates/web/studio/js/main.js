// Entry point: checks the page can use a camera at all, then starts the router.

import { route, start } from './router.js';
import { renderNav } from './views/nav.js';
import { session } from './session.js';
import { insecureContextProblem } from './secure_context.js';
import { signupPage } from './pages/signup.js';
import { loginPage } from './pages/login.js';
import { historyPage } from './pages/history.js';
import { studioPage } from './pages/studio.js';

route('/signup', signupPage);
route('/login', loginPage);
route('/history', historyPage);
route('/', studioPage);

session.subscribe(() => renderNav(document.getElementById('nav')));

const problem = insecureContextProblem(window.isSecureContext, location);
if (problem) {
  const banner = document.getElementById('banner');
  banner.setAttribute('role', 'alert');
  banner.textContent = problem;
  banner.classList.add('banner-error');
  banner.hidden = false;
}

start();
