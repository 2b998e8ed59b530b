/** The apps' index page (/apps/): fills its icons. */
import { fillIcons } from './shared/icons';

fillIcons();
